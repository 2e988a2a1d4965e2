#!/usr/bin/env bash
# One-command install of a corral server (with its local agent) on Debian / Raspberry Pi OS / Ubuntu.
# Run as root from a checkout:  sudo bash installer/install.sh [-- extra `corral server` flags]
# Installs the missing prerequisites with apt-get (containerd, runc, iptables, iproute2, CNI plugins);
# uses the system's Node.js when it is 20 or newer, otherwise puts an official Node.js 20 from the npm
# registry under /usr/local/lib/corral/node for corral alone (installer/node-runtime.sh). Builds corral
# into /usr/local/lib/corral (plus the agent bundle `corral join` uploads), writes the `corral` command
# to /usr/local/bin and a service: a systemd unit where PID 1 is systemd (containerd then runs as its
# own systemd service), otherwise a supervised sh service whose corral starts and supervises its own
# containerd. Prints how long each step took, then the kubeconfig path, a join token and the status
# page URL. Re-running upgrades in place and keeps /var/lib/corral. corral-uninstall.sh removes it all.
set -euo pipefail
die() { echo "install.sh: $*" >&2; exit 1; }

# Per-step wall-clock times, printed as a table at the end (and each as the step ends).
STEP_NAMES=()
STEP_MS=()
current_step=""
current_t0=0
INSTALL_T0=$(date +%s%N)
fmt_ms() { printf '%d.%d s' $(( $1 / 1000 )) $(( $1 % 1000 / 100 )); }
step_done() {
  [ -n "$current_step" ] || return 0
  local ms=$(( ($(date +%s%N) - current_t0) / 1000000 ))
  STEP_NAMES+=("$current_step")
  STEP_MS+=("$ms")
  echo "    done in $(fmt_ms "$ms")"
  current_step=""
}
step() { step_done; current_step="$1"; current_t0=$(date +%s%N); echo "==> $1"; }
print_times() {
  step_done
  echo "install times:"
  local i
  for i in "${!STEP_NAMES[@]}"; do printf '  %-44s %9s\n' "${STEP_NAMES[$i]}" "$(fmt_ms "${STEP_MS[$i]}")"; done
  printf '  %-44s %9s\n' "total" "$(fmt_ms $(( ($(date +%s%N) - INSTALL_T0) / 1000000 )))"
}

[ "$(id -u)" -eq 0 ] || die "run as root (sudo bash installer/install.sh)"
SRC="$(cd "$(dirname "$0")/.." && pwd)"
[ -f "$SRC/package.json" ] && [ -d "$SRC/server" ] && [ -d "$SRC/cli" ] || die "run it from a corral checkout ($SRC has no package.json/server/cli)"
PREFIX=/usr/local/lib/corral
DATA_DIR="${CORRAL_DATA_DIR:-/var/lib/corral}"
BIN_DIR="${CORRAL_BIN_DIR:-/usr/local/bin}"
export DEBIAN_FRONTEND=noninteractive
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
# shellcheck source=installer/node-runtime.sh
. "$SRC/installer/node-runtime.sh"
[ "${1:-}" = "--" ] && shift

step "checking this machine"
PKGS=(containerd runc iptables iproute2 iputils-arping containernetworking-plugins ca-certificates)
if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
  # Not Debian-like (Alpine with OpenRC, Fedora, Arch...): nothing is installed for you; say what is missing.
  missing=()
  for b in containerd ctr runc iptables ip tar; do command -v "$b" >/dev/null || missing+=("$b"); done
  [ -x /usr/lib/cni/bridge ] || [ -x /opt/cni/bin/bridge ] || missing+=("the CNI plugins (bridge, host-local)")
  command -v curl >/dev/null || command -v wget >/dev/null || missing+=("curl or wget")
  init="$(cat /proc/1/comm 2>/dev/null || echo unknown)"
  [ -x /sbin/openrc-run ] && init="OpenRC"
  die "this installer needs apt-get and dpkg (Debian, Raspberry Pi OS, Ubuntu); this machine has none (init: $init).
  corral has no $init service of its own yet; it would run as a supervised sh service started by hand.
  Missing here: ${missing[*]:-nothing else}, apt-get, dpkg.
  Alpine: apk add bash containerd runc iptables iproute2 cni-plugins nodejs npm, then run corral with
  'corral server --own-containerd' from a checkout (npm ci && npm run build). Tested OSes: docs/operations.md."
fi
# armhf userland on an aarch64 kernel: `uname -m` says aarch64, the packages must be armhf.
arch="$(dpkg --print-architecture)"
case "$arch" in
  amd64|arm64|armhf) ;;
  *) die "unsupported userland architecture $arch (corral runs on amd64, arm64 and armhf)" ;;
esac
systemd=0
[ -d /run/systemd/system ] && systemd=1
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
system_node="$(command -v node || true)"
echo "    $arch, init: $([ "$systemd" = 1 ] && echo systemd || echo "no systemd ($(cat /proc/1/comm 2>/dev/null || echo '?'))"), system Node.js: ${system_node:+$("$system_node" --version 2>/dev/null || echo unusable) at }${system_node:-none}"

need=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
command -v curl >/dev/null || command -v wget >/dev/null || need+=(curl)
apt_updated=0
apt_install() {
  [ "$#" -gt 0 ] || return 0
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  apt-get install -y -qq --no-install-recommends "$@"
}
if [ "${#need[@]}" -gt 0 ]; then
  step "installing Debian packages: ${need[*]}"
  apt_install "${need[@]}"
fi

# Node.js: the system's when it is new enough, else corral's own (never replacing the system's node).
if [ -n "$system_node" ] && [ "$(node_major "$system_node")" -ge 20 ]; then
  NODE="$(readlink -f "$system_node")"
  step "Node.js: using the system's $("$NODE" --version) ($NODE)"
  if command -v npm >/dev/null; then
    NPM=(npm)
  else
    apt_install npm
    NPM=(npm)
  fi
  rm -rf "${PREFIX:?}/node"
else
  step "Node.js: installing a private Node.js 20 into $PREFIX/node (system: ${system_node:+$("$system_node" --version 2>/dev/null || echo unusable)}${system_node:-none})"
  mkdir -p "$PREFIX"
  install_node_runtime "$PREFIX/node" "$arch" || die "cannot install corral's Node.js runtime (see above); the npm registry (${npm_config_registry:-https://registry.npmjs.org/}) must be reachable"
  NODE="$PREFIX/node/bin/node"
  NPM=("$NODE" "$PREFIX/node/lib/node_modules/npm/bin/npm-cli.js")
  # node-gyp (if sqlite3 has to be compiled) takes the headers from the runtime, not from the internet.
  export npm_config_nodedir="$PREFIX/node"
  export PATH="$PREFIX/node/bin:$PATH"
fi
echo "    node $("$NODE" --version), npm $("${NPM[@]}" --version)"

# Memory cgroup: without it, memory limits silently do nothing (Raspberry Pi OS default).
if ! grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null && ! awk '$1 == "memory" && $4 == 1 { f = 1 } END { exit !f }' /proc/cgroups 2>/dev/null; then
  for f in /boot/firmware/cmdline.txt /boot/cmdline.txt; do
    [ -f "$f" ] && { echo "warning: the memory cgroup is disabled: append ' cgroup_memory=1 cgroup_enable=memory' to $f and reboot" >&2; break; }
  done
fi

# containerd: systemd's service where there is systemd; otherwise corral starts and supervises its own
# (unless the flags name a containerd socket to use).
server_args=("$@")
if [ "$systemd" = 1 ]; then
  systemctl enable --now containerd >/dev/null 2>&1 || echo "warning: systemctl could not start containerd" >&2
elif [[ " ${server_args[*]} " != *" --containerd-address"* ]]; then
  server_args=(--own-containerd "${server_args[@]}")
fi

step "copying the sources into $PREFIX"
mkdir -p "$PREFIX"
cp -a "$SRC/package.json" "$SRC/package-lock.json" "$SRC/tsconfig.json" "$PREFIX/"
for d in api server agent installer cli; do rm -rf "${PREFIX:?}/$d"; cp -a "$SRC/$d" "$PREFIX/$d"; done
rm -rf "$PREFIX/dist" "$PREFIX/test"
cd "$PREFIX"

step "npm packages (npm ci)"
# Install scripts stay off here: sqlite3's native addon is the only one corral needs, and it gets its own step.
"${NPM[@]}" ci --prefer-offline --ignore-scripts --no-audit --no-fund --include=dev >npm-ci.log 2>&1 || { cat npm-ci.log >&2; die "npm ci failed"; }
rm -f npm-ci.log

step "sqlite3 native addon"
# A prebuilt binary when one is published for this platform (prebuild-install caches it in the npm
# cache), else a build from source with a compiler.
if (cd node_modules/sqlite3 && "$NODE" ../prebuild-install/bin.js -r napi) >sqlite3.log 2>&1; then
  echo "    prebuilt binary for linux-$("$NODE" -p process.arch)"
else
  reason="$(grep -v '^\s*$' sqlite3.log | tail -n 1)"
  echo "    no prebuilt sqlite3 binary could be downloaded (${reason:-no answer}): building it from source," >&2
  echo "    which needs a compiler and takes 1-3 minutes on a Pi 4 (about 40 s on a fast x86) instead of seconds" >&2
  missing_tools=()
  for t in python3:python3 make:make g++:g++; do command -v "${t%%:*}" >/dev/null || missing_tools+=("${t#*:}"); done
  if [ "${#missing_tools[@]}" -gt 0 ]; then
    echo "    installing the compiler: ${missing_tools[*]}" >&2
    apt_install "${missing_tools[@]}"
  fi
  (cd node_modules/sqlite3 && "$NODE" ../node-gyp/bin/node-gyp.js rebuild -j max) >>sqlite3.log 2>&1 || { tail -n 30 sqlite3.log >&2; die "building sqlite3 failed (log: $PREFIX/sqlite3.log)"; }
fi
"$NODE" -e "require('$PREFIX/node_modules/sqlite3')" || die "the sqlite3 addon does not load (log: $PREFIX/sqlite3.log)"
rm -f sqlite3.log

step "compiling TypeScript"
# tsc emits even when a file has type errors; what matters is that the program is there.
"$NODE" node_modules/typescript/bin/tsc -p tsconfig.json >tsc.log 2>&1 || echo "warning: TypeScript reported errors (see $PREFIX/tsc.log)" >&2
[ -f dist/cli/corral.js ] && [ -f dist/cli/install-service.js ] || die "the build produced no dist/cli/corral.js (see $PREFIX/tsc.log)"

step "agent bundle for corral join, server bundle for the service"
# Built while esbuild (a dev dependency) is still here. The service runs the server bundle: fewer,
# minified module files keep ~6-8 MiB less resident (installer/server-bundle.ts).
"$NODE" dist/installer/bundle.js
"$NODE" dist/installer/server-bundle.js
[ -f dist/bundle/server/corral.js ] || die "the server bundle was not built (dist/bundle/server/corral.js)"

step "removing build-only packages"
"${NPM[@]}" prune --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null

step "installing the corral command and the uninstall script"
# A wrapper, not a symlink to corral.js: `#!/usr/bin/env node` would pick the system's (maybe old) node.
mkdir -p "$BIN_DIR"
rm -f "$BIN_DIR/corral"
printf '#!/bin/sh\n# corral, with the Node.js the installer chose (%s).\nexec %s %s "$@"\n' "$NODE" "$NODE" "$PREFIX/dist/cli/corral.js" > "$BIN_DIR/corral"
chmod 755 "$BIN_DIR/corral"
cp "$SRC/installer/uninstall.sh" "$PREFIX/uninstall.sh"
chmod 755 "$PREFIX/uninstall.sh"
ln -sf "$PREFIX/uninstall.sh" "$BIN_DIR/corral-uninstall.sh"
# What corral-uninstall.sh needs to know: where things are and the flags the server runs with.
{ printf 'DATA_DIR=%q\nBIN_DIR=%q\nSERVER_ARGS=(' "$DATA_DIR" "$BIN_DIR"; printf '%q ' "${server_args[@]}"; printf ')\n'; } > "$PREFIX/install.env"

step "starting corral"
started=0
"$NODE" "$PREFIX/dist/cli/install-service.js" --data-dir "$DATA_DIR" --cli "$PREFIX/dist/bundle/server/corral.js" --lib-dir "$PREFIX" -- "${server_args[@]}" || started=$?
print_times
exit "$started"
