#!/usr/bin/env bash
# One-command install of a corral server (with its local agent) on Debian / Raspberry Pi OS / Ubuntu.
# Run as root from a checkout:  sudo bash installer/install.sh [-- extra `corral server` flags]
# Installs the prerequisites with apt-get (Node.js >= 20 and npm, containerd, runc, iptables, iproute2,
# CNI plugins), builds corral into /usr/local/lib/corral (plus the agent bundle that `corral join`
# uploads), links /usr/local/bin/corral, writes a service (systemd unit, or a supervised service with a
# pid file and restarts where PID 1 is not systemd) and starts it. It ends by printing the kubeconfig
# path, a join token and the status page URL. Re-running upgrades in place and keeps /var/lib/corral.
set -euo pipefail
die() { echo "install.sh: $*" >&2; exit 1; }
step() { echo "==> $*"; }
[ "$(id -u)" -eq 0 ] || die "run as root (sudo bash installer/install.sh)"
command -v apt-get >/dev/null || die "this installer needs apt-get (Debian, Raspberry Pi OS, Ubuntu)"
SRC="$(cd "$(dirname "$0")/.." && pwd)"
[ -f "$SRC/package.json" ] && [ -d "$SRC/server" ] || die "run it from a corral checkout ($SRC has no package.json/server)"
PREFIX=/usr/local/lib/corral
DATA_DIR="${CORRAL_DATA_DIR:-/var/lib/corral}"
BIN_DIR="${CORRAL_BIN_DIR:-/usr/local/bin}"
export DEBIAN_FRONTEND=noninteractive

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
node_ok() { command -v node >/dev/null && [ "$(node_major)" -ge 20 ]; }
apt_updated=0
apt_install() {
  [ "$#" -gt 0 ] || return 0
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  step "installing $*"
  apt-get install -y -qq --no-install-recommends "$@"
}

# armhf userland on an aarch64 kernel: `uname -m` says aarch64, the packages must be armhf.
arch="$(dpkg --print-architecture)"
case "$arch" in
  amd64|arm64|armhf) ;;
  *) die "unsupported userland architecture $arch (corral runs on amd64, arm64 and armhf)" ;;
esac

need=()
node_ok || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
for p in containerd runc iptables iproute2 iputils-arping containernetworking-plugins ca-certificates; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
apt_install "${need[@]}"
node_ok || die "Node.js >= 20 is required, and this OS release ships $(node --version 2>/dev/null || echo none) (Debian 12 has 18).
  Use Debian 13 / Ubuntu 24.04, or install a Node.js 20+ package (e.g. from NodeSource), then re-run."

# Memory cgroup: without it, memory limits silently do nothing (Raspberry Pi OS default).
if ! grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null && ! awk '$1 == "memory" && $4 == 1 { f = 1 } END { exit !f }' /proc/cgroups 2>/dev/null; then
  for f in /boot/firmware/cmdline.txt /boot/cmdline.txt; do
    [ -f "$f" ] && { echo "warning: the memory cgroup is disabled: append ' cgroup_memory=1 cgroup_enable=memory' to $f and reboot" >&2; break; }
  done
fi

# containerd: started by systemd where there is one; otherwise corral's agent reports it missing on the Node.
if [ -d /run/systemd/system ]; then systemctl enable --now containerd >/dev/null 2>&1 || true; fi

step "building corral into $PREFIX"
mkdir -p "$PREFIX"
cp -a "$SRC/package.json" "$SRC/package-lock.json" "$SRC/tsconfig.json" "$PREFIX/"
for d in api server agent installer; do rm -rf "${PREFIX:?}/$d"; cp -a "$SRC/$d" "$PREFIX/$d"; done
rm -rf "$PREFIX/dist"
(
  cd "$PREFIX"
  # sqlite3's native addon comes prebuilt; where none fits, node-gyp builds it and needs a compiler.
  if ! npm ci --prefer-offline --no-audit --no-fund --include=dev >/dev/null 2>npm-ci.log; then
    apt_install python3 make g++
    npm ci --prefer-offline --no-audit --no-fund --include=dev >/dev/null 2>npm-ci.log || { cat npm-ci.log >&2; die "npm ci failed"; }
  fi
  rm -f npm-ci.log
  # tsc emits even when a file has type errors; what matters is that the program is there.
  npx tsc -p tsconfig.json >tsc.log 2>&1 || echo "warning: TypeScript reported errors (see $PREFIX/tsc.log)" >&2
  [ -f dist/cli/corral.js ] && [ -f dist/cli/install-service.js ] || die "the build produced no dist/cli/corral.js (see $PREFIX/tsc.log)"
  # The agent bundle `corral join` uploads, built while esbuild (a dev dependency) is still here.
  node dist/installer/bundle.js
  npm prune --omit=dev --no-audit --no-fund >/dev/null
)
chmod +x "$PREFIX/dist/cli/corral.js"
mkdir -p "$BIN_DIR"
ln -sf "$PREFIX/dist/cli/corral.js" "$BIN_DIR/corral"

step "starting corral"
exec node "$PREFIX/dist/cli/install-service.js" --data-dir "$DATA_DIR" --cli "$PREFIX/dist/cli/corral.js" --lib-dir "$PREFIX" -- "$@"
