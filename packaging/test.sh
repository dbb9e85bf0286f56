#!/usr/bin/env bash
# The packaging tests (issue 4): installs the tools they need, builds the packages once, checks the
# Yocto recipe against the arm64 .deb, then runs tests/Fractal.Packaging.Tests, which installs,
# runs, upgrades, removes and purges fractal-agent on this machine. Needs root.
#
#   packaging/test.sh [extra dotnet test arguments]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

if [ "$(id -u)" != 0 ]; then
  echo "packaging/test.sh: the packaging tests install a .deb with dpkg -i and must run as root" >&2
  exit 1
fi

# What the tests and scripts run: dpkg-deb/dpkg-dev (build), lintian, systemd-analyze (systemd),
# adduser and deb-systemd-helper (maintainer scripts), setpriv (util-linux), readelf and strip
# (binutils; binutils-aarch64-linux-gnu strips the arm64 librdkafka), gcc and the arm64 cross gcc
# (they link the Native AOT builds), python3 (check-recipe.sh). The list is in
# docs/design/0007-packaging-and-systemd.md too.
packages=(dpkg-dev lintian systemd adduser init-system-helpers util-linux binutils binutils-aarch64-linux-gnu python3 curl
  gcc libc6-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

out=$repo/packaging/out/tests
rm -rf "$out"
# One publish per architecture; the second amd64 version (for the upgrade test) reuses it.
"$here/deb/build-deb.sh" --arch amd64 --arch arm64 --version 0.1.0~pkgtest1 --out "$out" >/dev/null
"$here/deb/build-deb.sh" --arch amd64 --version 0.1.0~pkgtest2 --out "$out" --reuse-publish >/dev/null

# The recipe is checked against a build of its own version (PV), made from the same publish.
"$here/deb/build-deb.sh" --arch arm64 --version "$(cat "$here/VERSION")" --out "$out" --reuse-publish >/dev/null
"$here/yocto/check-recipe.sh" "$out/fractal-agent_$(cat "$here/VERSION")_arm64.deb" \
  "$out/fractal-agent-$(cat "$here/VERSION")-linux-arm64.tar.gz"

FRACTAL_DEB_DIR=$out dotnet test "$repo/tests/Fractal.Packaging.Tests/Fractal.Packaging.Tests.csproj" "$@"
