SUMMARY = "Fractal edge agent: sensor ingest, durable buffer and uplinks"
DESCRIPTION = "Receives sensor readings over MQTT, keeps them in a durable on-disk buffer, \
forwards them to the Fractal hub (gRPC), Kafka or S3, and runs the node's model on them \
(ONNX Runtime). Native AOT .NET build: no .NET runtime \
package is needed on the target."
HOMEPAGE = "https://fractal.example"
SECTION = "net"

# The agent (MIT) and what its Native AOT build compiles in or ships beside it: the .NET
# runtime, LiteDB, MQTTnet,
# Polly, prometheus-net, Brotli, ONNX Runtime (MIT; its compiled-in third-party code is listed in
# its ThirdPartyNotices.txt, which the Debian package installs); zlib (Zlib); librdkafka (BSD-2-Clause); Confluent.Kafka,
# AWS SDK, gRPC (Apache-2.0); Google.Protobuf (BSD-3-Clause). Listed per file in the Debian
# copyright file.
LICENSE = "MIT & Apache-2.0 & BSD-2-Clause & BSD-3-Clause & Zlib"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302 \
                    file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10 \
                    file://${COMMON_LICENSE_DIR}/BSD-2-Clause;md5=cb641bc04cda31daea161b1bc15da69f \
                    file://${COMMON_LICENSE_DIR}/BSD-3-Clause;md5=550794465ba0ec5312d6919e203a55f9 \
                    file://${COMMON_LICENSE_DIR}/Zlib;md5=87f239f408daca8a157858e192597633"

# The prebuilt Native AOT linux-arm64 publish that packaging/deb/build-deb.sh
# makes beside the .deb: the same files as fractal-agent_${PV}_arm64.deb. Point FRACTAL_DIST_DIR
# (local.conf) at the directory holding it; see the layer's README.
FRACTAL_DIST_DIR ??= "${FRACTAL_LAYERDIR}/../../out"
FILESEXTRAPATHS:prepend := "${FRACTAL_DIST_DIR}:"
SRC_URI = "file://fractal-agent-${PV}-linux-arm64.tar.gz;subdir=${BP}"
S = "${WORKDIR}/${BP}"

COMPATIBLE_HOST = "aarch64.*-linux"

inherit systemd useradd

USERADD_PACKAGES = "${PN}"
GROUPADD_PARAM:${PN} = "--system fractal"
USERADD_PARAM:${PN} = "--system --gid fractal --home-dir /var/lib/fractal --no-create-home --shell /sbin/nologin --comment 'Fractal edge agent' fractal"

SYSTEMD_PACKAGES = "${PN}"
SYSTEMD_SERVICE:${PN} = "fractal-agent.service"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"

do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    install -d ${D}${libdir}/fractal-agent
    cp -R --no-preserve=ownership ${S}/usr/lib/fractal-agent/. ${D}${libdir}/fractal-agent/
    install -D -m 0644 ${S}/lib/systemd/system/fractal-agent.service ${D}${systemd_system_unitdir}/fractal-agent.service
    install -D -m 0640 ${S}/etc/fractal/agent.json ${D}${sysconfdir}/fractal/agent.json
    chgrp fractal ${D}${sysconfdir}/fractal/agent.json
    # /var/lib/fractal is made by systemd (StateDirectory=fractal) at first start.
}

FILES:${PN} = "${libdir}/fractal-agent ${systemd_system_unitdir}/fractal-agent.service ${sysconfdir}/fractal"
CONFFILES:${PN} = "${sysconfdir}/fractal/agent.json"

# .NET loads libssl/libcrypto with dlopen (no DT_NEEDED for the shlibs scan to see); the executable
# links only glibc (2.34 or later). The Debian package's Depends, in OE names.
RDEPENDS:${PN} = "glibc libssl libcrypto ca-certificates"

# Prebuilt binaries: already stripped by the AOT build, not linked with OE's LDFLAGS, and their
# private libraries (librdkafka.so, libonnxruntime.so) must not satisfy other recipes' shlibs.
INHIBIT_PACKAGE_STRIP = "1"
INHIBIT_PACKAGE_DEBUG_SPLIT = "1"
INHIBIT_SYSROOT_STRIP = "1"
EXCLUDE_FROM_SHLIBS = "1"
INSANE_SKIP:${PN} = "already-stripped ldflags textrel"
