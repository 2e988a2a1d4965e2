#!/usr/bin/env bash
# Installs the test prerequisites; safe to re-run (it only installs what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian packages the lab, agent and browser tiers use.
PKGS=(containerd runc iptables iproute2 iputils-arping openssh-server openssh-client busybox-static containernetworking-plugins chromium sqlite3 procps psmisc bind9-dnsutils dnsperf etcd-server etcd-client curl openssl wrk)
# The official Python client, for the client-dialect tests.
PKGS+=(python3-kubernetes)
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
