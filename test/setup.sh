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
# The installer's private Node.js runtime (installer/node-runtime.sh) for the lab installer test
# (test/lab/install.test.ts), whose lab hosts cannot reach the npm registry: fetched once into the test
# cache with npm (which checks it against the registry's integrity), together with that integrity.
RUNTIME_CACHE="${CORRAL_TEST_CACHE:-/var/cache/corral-test}/node-runtime"
read -r runtime_pkg runtime_version npm_version <<<"$(bash -c '. installer/node-runtime.sh; echo "$(node_runtime_package "$(dpkg --print-architecture)") $NPM_RUNTIME_VERSION"')"
for spec in "$runtime_pkg@$runtime_version" "npm@$npm_version"; do
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
