#!/usr/bin/env bash
# Checks meta-fractal's recipe against the arm64 .deb, since bitbake cannot run here:
#   - PV is the package version (packaging/VERSION);
#   - the payload tarball the recipe fetches holds exactly the .deb's files, Debian-only docs aside;
#   - every installed path is covered by FILES:${PN} and installed by do_install;
#   - SYSTEMD_SERVICE names the .deb's unit, CONFFILES equals the .deb's conffiles;
#   - the user and group match the Debian postinst (name, home, shell);
#   - RDEPENDS covers the .deb's Depends (mapped to OpenEmbedded names);
#   - LICENSE names every licence in the Debian copyright file.
#
#   packaging/yocto/check-recipe.sh DEB TARBALL
# DEB: fractal-agent_<version>_arm64.deb; TARBALL: fractal-agent-<version>-linux-arm64.tar.gz (both
# from packaging/deb/build-deb.sh). Exits 1 and says what differs. Needs python3, dpkg-deb, tar.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -eq 2 ] || { sed -n '2,14p' "$0" >&2; exit 2; }
exec python3 - "$here" "$1" "$2" <<'PY'
import glob, os, re, subprocess, sys, tarfile

here, deb, tarball = sys.argv[1:4]
errors = []
def fail(msg): errors.append(msg)

recipes = glob.glob(os.path.join(here, "meta-fractal/recipes-fractal/fractal-agent/fractal-agent_*.bb"))
if len(recipes) != 1:
    sys.exit(f"check-recipe: expected one fractal-agent_*.bb, found {recipes}")
recipe_path = recipes[0]
text = open(recipe_path).read()
pv = re.match(r"fractal-agent_(.+)\.bb$", os.path.basename(recipe_path)).group(1)

# Variables: NAME = "value" with backslash continuations; later assignments win.
joined = re.sub(r"\\\n", " ", text)
var = {}
for m in re.finditer(r'^([A-Za-z_][A-Za-z0-9_:${}\[\]-]*)\s*(\?\?=|\?=|:=|=|\+=)\s*"(.*)"\s*$', joined, re.M):
    name, op, value = m.groups()
    var[name] = (var.get(name, "") + " " + value).strip() if op == "+=" else value

def v(name):
    if name not in var:
        fail(f"{os.path.basename(recipe_path)} does not set {name}")
        return ""
    return var[name]

OE = {"libdir": "/usr/lib", "sysconfdir": "/etc", "systemd_system_unitdir": "/lib/systemd/system",
      "localstatedir": "/var", "bindir": "/usr/bin", "PN": "fractal-agent", "PV": pv}
def expand(s):
    return re.sub(r"\$\{([A-Za-z_]+)\}", lambda m: OE.get(m.group(1), m.group(0)), s)

# The .deb.
version = open(os.path.join(here, "..", "VERSION")).read().strip()
if pv != version:
    fail(f"recipe PV {pv} is not packaging/VERSION {version}")
fields = subprocess.run(["dpkg-deb", "--field", deb], check=True, capture_output=True, text=True).stdout
field = dict((l.split(":", 1)[0], l.split(":", 1)[1].strip()) for l in fields.splitlines() if ":" in l and not l.startswith(" "))
if field.get("Architecture") != "arm64":
    fail(f"{deb} is {field.get('Architecture')}, not arm64: the recipe installs the arm64 build")
listing = subprocess.run(["dpkg-deb", "--contents", deb], check=True, capture_output=True, text=True).stdout
deb_files = {l.split()[5][1:] for l in listing.splitlines() if not l.startswith("d")}
debian_only = ("/usr/share/doc/", "/usr/share/lintian/")
payload = {f for f in deb_files if not f.startswith(debian_only)}

with tarfile.open(tarball) as t:
    tar_files = {"/" + m.name for m in t.getmembers() if not m.isdir()}
if tar_files != payload:
    fail("tarball and .deb differ: only in tarball %s; only in .deb %s" % (sorted(tar_files - payload)[:10], sorted(payload - tar_files)[:10]))
if f"fractal-agent-${{PV}}-linux-arm64.tar.gz" not in v("SRC_URI"):
    fail("SRC_URI does not fetch fractal-agent-${PV}-linux-arm64.tar.gz")

files = [expand(p) for p in v("FILES:${PN}").split()]
for f in sorted(payload):
    if not any(f == p or f.startswith(p.rstrip("/") + "/") for p in files):
        fail(f"{f} (in the .deb) is not covered by FILES:${{PN}} {files}")

install = text[text.index("do_install()"):]
install = install[:install.index("\n}")]
installed_roots = [expand(m) for m in re.findall(r"\$\{D\}(\$\{[a-z_]+\}[^\s]*)", install)]
for f in sorted(payload):
    if not any(f == r.rstrip("/.") or f.startswith(r.rstrip("/.") + "/") for r in installed_roots):
        fail(f"do_install does not install {f}")

units = sorted(os.path.basename(f) for f in payload if f.startswith("/lib/systemd/system/"))
if v("SYSTEMD_SERVICE:${PN}").split() != units:
    fail(f"SYSTEMD_SERVICE:${{PN}} is {v('SYSTEMD_SERVICE:${PN}')!r}, the .deb ships {units}")
if "systemd" not in re.findall(r"^inherit (.*)$", text, re.M)[0].split() or "useradd" not in re.findall(r"^inherit (.*)$", text, re.M)[0].split():
    fail("the recipe must inherit systemd and useradd")

conffiles = subprocess.run(["sh", "-c", f"dpkg-deb --ctrl-tarfile '{deb}' | tar -xO ./conffiles"], check=True, capture_output=True, text=True).stdout.split()
if sorted(expand(c) for c in v("CONFFILES:${PN}").split()) != sorted(conffiles):
    fail(f"CONFFILES:${{PN}} {v('CONFFILES:${PN}')!r} differs from the .deb's conffiles {conffiles}")

postinst = subprocess.run(["sh", "-c", f"dpkg-deb --ctrl-tarfile '{deb}' | tar -xO ./postinst"], check=True, capture_output=True, text=True).stdout
user = v("USERADD_PARAM:${PN}")
for needle, what in [("--home /var/lib/fractal", "--home-dir /var/lib/fractal"), ("--ingroup fractal", "--gid fractal")]:
    if needle in postinst and what not in user:
        fail(f"USERADD_PARAM:${{PN}} lacks {what} (the Debian postinst has {needle})")
if not user.endswith(" fractal") or "--system" not in user:
    fail("USERADD_PARAM:${PN} must create the system user fractal")
if "--system fractal" not in v("GROUPADD_PARAM:${PN}"):
    fail("GROUPADD_PARAM:${PN} must create the system group fractal")

# Debian Depends -> OpenEmbedded package names. adduser is the useradd class's job.
oe_names = {"libc6": ["glibc"], "libgcc-s1": ["libgcc"], "libstdc++6": ["libstdc++"],
            "libssl3": ["libssl", "libcrypto"], "libssl3t64": ["libssl", "libcrypto"],
            "libsasl2-2": ["cyrus-sasl"], "adduser": []}
rdepends = v("RDEPENDS:${PN}").split()
for alternatives in field.get("Depends", "").split(","):
    names = [re.sub(r"\s*\(.*\)", "", a).strip() for a in alternatives.split("|")]
    known = [n for n in names if n in oe_names]
    if not known:
        fail(f"no OpenEmbedded name known for Depends '{alternatives.strip()}'")
    elif not any(all(x in rdepends for x in oe_names[n]) for n in known):
        fail(f"RDEPENDS:${{PN}} {rdepends} lacks {[oe_names[n] for n in known]} for Depends '{alternatives.strip()}'")
if "ca-certificates" in field.get("Recommends", "") and "ca-certificates" not in rdepends:
    fail("RDEPENDS:${PN} lacks ca-certificates (Recommends of the .deb)")

copyright_file = subprocess.run(["sh", "-c", f"dpkg-deb --fsys-tarfile '{deb}' | tar -xO ./usr/share/doc/fractal-agent/copyright"], check=True, capture_output=True, text=True).stdout
spdx = {"MIT": "MIT", "Apache-2.0": "Apache-2.0", "BSD-2-clause": "BSD-2-Clause", "BSD-3-clause": "BSD-3-Clause"}
licences = set()
for m in re.finditer(r"^License: (.+)$", copyright_file, re.M):
    for name in re.split(r"\s+(?:and|or)\s+", m.group(1).strip()):
        licences.add(spdx.get(name, name))
recipe_licences = set(re.split(r"\s*[&|]\s*", v("LICENSE")))
if licences - recipe_licences:
    fail(f"LICENSE {v('LICENSE')!r} lacks {sorted(licences - recipe_licences)} (debian/copyright)")
for lic in recipe_licences:
    if f"/{lic};md5=" not in v("LIC_FILES_CHKSUM"):
        fail(f"LIC_FILES_CHKSUM has no entry for {lic}")

if "aarch64" not in v("COMPATIBLE_HOST"):
    fail("COMPATIBLE_HOST must allow aarch64")

if errors:
    print("check-recipe: the recipe and the .deb disagree:", file=sys.stderr)
    for e in errors:
        print("  - " + e, file=sys.stderr)
    sys.exit(1)
print(f"check-recipe: {os.path.basename(recipe_path)} matches {os.path.basename(deb)}: "
      f"{len(payload)} files, unit {units[0]}, conffiles {conffiles}, RDEPENDS {' '.join(rdepends)}, LICENSE {v('LICENSE')}")
PY
