#!/usr/bin/env bash
# Builds fractal-agent_<version>_<arch>.deb from a Native AOT publish of src/Fractal.Agent
# (publish profiles linux-x64 and linux-arm64). Needs: dotnet, dpkg-deb, gzip, gcc (amd64) and
# gcc-aarch64-linux-gnu with libc6-dev-arm64-cross (arm64), which link the AOT compiler's output.
# No network beyond the NuGet restore of `dotnet publish`.
#
#   packaging/deb/build-deb.sh [--arch amd64|arm64|all]... [--version V] [--out DIR] [--reuse-publish]
#
#   --arch           Debian architecture(s) to build; default: all (amd64 and arm64).
#   --version        package version; default: $FRACTAL_VERSION, else the one in packaging/VERSION.
#   --out            output directory; default: packaging/out. Debs land there, the publish
#                    output in OUT/publish/<rid>, the staged tree in OUT/stage/<arch>.
#   --reuse-publish  package the existing OUT/publish/<rid> if there is one (the packaging tests
#                    build two versions from one publish to test upgrades).
# Prints the path of each .deb it built, one a line, on stdout. Beside each .deb it leaves
# fractal-agent-<version>-<rid>.tar.gz, the same payload for the Yocto recipe.
# FRACTAL_MAINTAINER sets the Maintainer field (default: a placeholder address).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
archs=()
version=${FRACTAL_VERSION:-$(tr -d ' \n' <"$repo/packaging/VERSION")}
out=$repo/packaging/out
reuse=0

while [ $# -gt 0 ]; do
  case "$1" in
    --arch) shift; if [ "$1" = all ]; then archs+=(amd64 arm64); else archs+=("$1"); fi ;;
    --version) shift; version=$1 ;;
    --out) shift; out=$1 ;;
    --reuse-publish) reuse=1 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "build-deb.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ ${#archs[@]} -gt 0 ] || archs=(amd64 arm64)
if ! [[ $version =~ ^[0-9][A-Za-z0-9.+~-]*$ ]]; then
  echo "build-deb.sh: '$version' is not a Debian version" >&2; exit 2
fi
maintainer=${FRACTAL_MAINTAINER:-Fractal maintainers <fractal@fractal.example>}
for tool in dotnet dpkg-deb gzip readelf; do
  command -v "$tool" >/dev/null || { echo "build-deb.sh: '$tool' is required (apt-get install dpkg-dev; dotnet SDK)" >&2; exit 2; }
done
mkdir -p "$out"
out=$(cd "$out" && pwd)

# ONNX Runtime's ThirdPartyNotices.txt from the restored NuGet package (the version the build uses).
onnxruntime_notices() {
  local ort_version notices
  ort_version=$(sed -n 's/.*Include="Microsoft.ML.OnnxRuntime" Version="\([^"]*\)".*/\1/p' "$repo/Directory.Packages.props")
  notices=${NUGET_PACKAGES:-$HOME/.nuget/packages}/microsoft.ml.onnxruntime/$ort_version/ThirdPartyNotices.txt
  [ -f "$notices" ] || { echo "build-deb.sh: $notices is missing (dotnet restore first)" >&2; exit 2; }
  echo "$notices"
}

# Reproducible: file dates and the changelog date come from the last commit.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}

for arch in "${archs[@]}"; do
  case "$arch" in
    amd64) rid=linux-x64; strip=strip; strip_pkg=binutils
      linker=gcc; linker_pkg="gcc libc6-dev" ;;
    arm64) rid=linux-arm64; strip=aarch64-linux-gnu-strip; strip_pkg=binutils-aarch64-linux-gnu
      linker=aarch64-linux-gnu-gcc; linker_pkg="gcc-aarch64-linux-gnu libc6-dev-arm64-cross" ;;
    *) echo "build-deb.sh: unsupported architecture '$arch' (amd64, arm64)" >&2; exit 2 ;;
  esac

  pub=$out/publish/$rid
  if [ $reuse = 0 ] || [ ! -x "$pub/fractal-agent" ]; then
    command -v "$linker" >/dev/null || { echo "build-deb.sh: '$linker' is required to link the $arch build (apt-get install $linker_pkg)" >&2; exit 2; }
    rm -rf "$pub"
    echo "build-deb.sh: publishing $rid (Native AOT) ..." >&2
    dotnet publish "$repo/src/Fractal.Agent/Fractal.Agent.csproj" -p:PublishProfile=$rid -o "$pub" \
      --nologo -v:quiet -clp:ErrorsOnly >&2
  fi

  stage=$out/stage/$arch
  rm -rf "$stage"
  lib=$stage/usr/lib/fractal-agent
  doc=$stage/usr/share/doc/fractal-agent
  install -d -m 0755 "$lib" "$stage/lib/systemd/system" "$stage/etc/fractal" "$doc" \
    "$stage/usr/share/lintian/overrides" "$stage/DEBIAN"
  # What runs: the native executable, the native libraries it loads (librdkafka), the defaults. The
  # publish directory also holds the referenced projects' .pdb files, which the AOT build never reads.
  install -m 0755 "$pub/fractal-agent" "$lib/fractal-agent"
  install -m 0644 "$pub/appsettings.json" "$pub"/*.so "$lib/"
  # librdkafka.redist ships its library with symbols (1 MB of the 12); the AOT build is stripped.
  for elf in "$lib"/*.so "$lib/fractal-agent"; do
    # grep reads all of readelf's output: with -q it would exit early and, under pipefail, SIGPIPE
    # would make the test false.
    if readelf -S "$elf" 2>/dev/null | grep '\.symtab' >/dev/null; then
      command -v "$strip" >/dev/null || { echo "build-deb.sh: '$strip' is required to strip $elf (apt-get install $strip_pkg)" >&2; exit 2; }
      "$strip" --strip-unneeded --remove-section=.comment "$elf"
    fi
  done

  install -m 0644 "$here/fractal-agent.service" "$stage/lib/systemd/system/fractal-agent.service"
  install -m 0644 "$here/agent.json" "$stage/etc/fractal/agent.json"
  install -m 0644 "$here/debian/copyright" "$doc/copyright"
  install -m 0644 "$here/debian/README.Debian" "$doc/README.Debian"
  # ONNX Runtime compiles in third-party code under its own licenses; its notices ship verbatim.
  gzip -9n -c "$(onnxruntime_notices)" > "$doc/onnxruntime-ThirdPartyNotices.txt.gz"
  chmod 0644 "$doc/onnxruntime-ThirdPartyNotices.txt.gz"
  install -m 0644 "$here/debian/lintian-overrides" "$stage/usr/share/lintian/overrides/fractal-agent"
  {
    echo "fractal-agent ($version) unstable; urgency=medium"
    echo
    echo "  * Build of the Fractal edge agent (git $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown))."
    echo
    echo " -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
  } | gzip -9n >"$doc/changelog.gz"
  chmod 0644 "$doc/changelog.gz"

  # The AOT executable links only libc and libm (GLIBC_2.34 symbols when linked on Debian 12) and
  # loads libssl with dlopen for TLS to the hub, Kafka and S3; the shipped librdkafka links only libc.
  depends="adduser, libc6 (>= 2.34), libssl3 | libssl3t64"
  installed_size=$(du -s -k --apparent-size "$stage" | cut -f1)
  sed -e "s/@VERSION@/$version/" -e "s|@MAINTAINER@|$maintainer|" -e "s/@ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$installed_size/" \
    -e "s/@DEPENDS@/$depends/" "$here/debian/control.in" >"$stage/DEBIAN/control"
  install -m 0644 "$here/debian/conffiles" "$stage/DEBIAN/conffiles"
  for script in postinst prerm postrm; do
    install -m 0755 "$here/debian/$script" "$stage/DEBIAN/$script"
  done
  (cd "$stage" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' \
    | LC_ALL=C sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
  chmod 0644 "$stage/DEBIAN/md5sums"

  deb=$out/fractal-agent_${version}_${arch}.deb
  dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >&2
  echo "$deb"

  # The same payload for the Yocto recipe (packaging/yocto/meta-fractal), without the Debian-only
  # parts (control area, Debian docs, lintian overrides).
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
    -C "$stage" -czf "$out/fractal-agent-${version}-$rid.tar.gz" usr/lib/fractal-agent lib/systemd/system etc/fractal
done
