#!/usr/bin/env bash
# Removes what installer/install.sh installed on this machine (as k3s-uninstall.sh does): stops the
# corral service, removes the local node's containers, pod network namespaces, bridge, routes and
# iptables chains (`corral agent --uninstall`), stops and removes corral's own containerd with its
# images, then deletes the service, /usr/local/lib/corral (with the private Node.js runtime),
# /usr/local/bin/corral, /var/lib/corral (the cluster's data: back it up first with corral backup),
# /etc/corral and /run/corral. Debian packages it installed (containerd, runc, ...) stay.
# Installed as /usr/local/bin/corral-uninstall.sh; run as root.
set -uo pipefail
[ "$(id -u)" -eq 0 ] || { echo "corral-uninstall.sh: run as root" >&2; exit 1; }
PREFIX=/usr/local/lib/corral
DATA_DIR=/var/lib/corral
BIN_DIR=/usr/local/bin
SERVER_ARGS=()
# What the installer recorded (data dir, bin dir, the server's flags).
# shellcheck disable=SC1091
[ -f "$PREFIX/install.env" ] && . "$PREFIX/install.env"
# The server flags the local agent's clean-up must repeat.
agent_args=()
for i in "${!SERVER_ARGS[@]}"; do
  case "${SERVER_ARGS[$i]}" in
    --own-containerd) agent_args+=(--own-containerd) ;;
    --netns-prefix|--containerd-address) agent_args+=("${SERVER_ARGS[$i]}" "${SERVER_ARGS[$((i + 1))]:-}") ;;
    --netns-prefix=*|--containerd-address=*) agent_args+=("${SERVER_ARGS[$i]}") ;;
  esac
done
problems=0

# Empties a directory and removes it; a directory that is a mount point (a disk mounted at
# /var/lib/corral) stays, empty.
remove_dir() {
  [ -e "$1" ] || return 0
  rm -rf "$1" 2>/dev/null || find "$1" -mindepth 1 -delete 2>/dev/null || { echo "cannot remove $1" >&2; problems=1; }
}

echo "stopping the corral service"
if [ -f /etc/systemd/system/corral.service ]; then
  systemctl disable --now corral >/dev/null 2>&1
  rm -f /etc/systemd/system/corral.service
  systemctl daemon-reload 2>/dev/null
fi
if [ -f "$PREFIX/corral.service.sh" ]; then
  sh "$PREFIX/corral.service.sh" stop >/dev/null || problems=1
fi

node=""
if [ -f "$PREFIX/dist/cli/corral.js" ]; then
  node="$(sed -n 's/^exec \([^ ]*\) .*/\1/p' "$BIN_DIR/corral" 2>/dev/null)"
  [ -x "$node" ] || node="$(command -v node || true)"
fi
if [ -n "$node" ]; then
  echo "removing the node's containers, pod network namespaces, routes and iptables chains"
  "$node" "$PREFIX/dist/cli/corral.js" agent --uninstall --data-dir "$DATA_DIR" "${agent_args[@]}" || problems=1
else
  echo "warning: corral's program is gone; containers and network rules were not removed" >&2
  problems=1
fi

echo "removing files"
rm -f "$BIN_DIR/corral" "$BIN_DIR/corral-uninstall.sh"
remove_dir "$DATA_DIR"
remove_dir /etc/corral
remove_dir /run/corral
remove_dir "$PREFIX"
if [ "$problems" = 0 ]; then echo "corral is uninstalled"; else echo "corral is uninstalled, with the problems shown above" >&2; fi
exit "$problems"
