#!/usr/bin/env bash
# One-command install of a corral server (with its local agent) on Debian / Raspberry Pi OS.
# Run as root from a checkout: installs prerequisites with apt-get, builds corral into
# /usr/local/lib/corral, links /usr/local/bin/corral, writes a service and starts it.
# Re-running upgrades in place and keeps the data in /var/lib/corral.
set -euo pipefail
die() { echo "install.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (sudo bash installer/install.sh)"
command -v apt-get >/dev/null || die "this installer needs apt-get (Debian, Raspberry Pi OS, Ubuntu)"
SRC="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX=/usr/local/lib/corral
DATA_DIR="${CORRAL_DATA_DIR:-/var/lib/corral}"

need=()
node_ok() { command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ]; }
node_ok || need+=(nodejs npm)
for p in containerd runc iptables iproute2 containernetworking-plugins; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
node_ok || die "Node.js >= 20 is required; this OS release ships $(node --version 2>/dev/null || echo none). Install a newer nodejs package and re-run."

echo "building corral into $PREFIX"
mkdir -p "$PREFIX"
cp -a "$SRC/package.json" "$SRC/package-lock.json" "$SRC/tsconfig.json" "$PREFIX/"
for d in api server agent installer; do rm -rf "${PREFIX:?}/$d"; cp -a "$SRC/$d" "$PREFIX/$d"; done
( cd "$PREFIX" && npm ci --no-audit --no-fund --include=dev >/dev/null && npx tsc -p tsconfig.json && npm prune --omit=dev >/dev/null )
ln -sf "$PREFIX/dist/server/cli.js" /usr/local/bin/corral
chmod +x "$PREFIX/dist/server/cli.js"

exec node "$PREFIX/dist/installer/service.js" --data-dir "$DATA_DIR" "$@"
