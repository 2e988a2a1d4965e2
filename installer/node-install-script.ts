/**
 * The script a node runs to join from the LAN without SSH:
 *   curl -fsSL --cacert ca.crt https://SERVER:6443/install.sh | sudo --preserve-env=CORRAL_TOKEN sh -s -
 *   curl -fsSL --cacert ca.crt https://SERVER:6443/install.sh | sudo sh -s - --token-file FILE
 * The join token comes from the environment or a file, never from argv: every user of the node can
 * read every process's command line (/proc/PID/cmdline), and the script passes it on the same way
 * (environment of the downloads and of the bundle's `install`).
 * It trusts nothing it has not checked: the CA it fetches must hash to the token's pin, the bundle is
 * fetched over TLS verified by that CA with the token, and its sha256 is checked before it is installed.
 * The bundle's own `install` command then writes the config, token and service and waits for Ready.
 */
import { NODE_PATHS } from './join/probe.js';
import { shQuote } from './service-files.js';

/** Node.js one-liner used for every download: `fetch URL OUT [CAFILE|insecure]`, the token in CORRAL_FETCH_TOKEN. */
const FETCH_JS = [
  "const [u,out,ca]=process.argv.slice(1);const tok=process.env.CORRAL_FETCH_TOKEN;const https=require('https'),fs=require('fs');",
  "const o={rejectUnauthorized:ca!=='insecure',headers:tok?{authorization:'Bearer '+tok}:{}};if(ca&&ca!=='insecure')o.ca=fs.readFileSync(ca);",
  "https.get(u,o,r=>{if(r.statusCode!==200){console.error(u+': HTTP '+r.statusCode);process.exit(1)}r.pipe(fs.createWriteStream(out)).on('finish',()=>process.exit(0))})",
  ".on('error',e=>{console.error(u+': '+e.message);process.exit(1)})",
].join('');

const CAHASH_JS = "const c=require('crypto');process.stdout.write(c.createHash('sha256').update(new c.X509Certificate(require('fs').readFileSync(process.argv[1])).raw).digest('hex'))";

export function renderNodeInstallScript(o: { serverUrl: string }): string {
  return `#!/bin/sh
# corral node installer (served by the corral server at /install.sh)
# usage: export CORRAL_TOKEN=K10...   (or write it to a file only root can read)
#        curl -fsSL --cacert ca.crt ${o.serverUrl}/install.sh | sudo --preserve-env=CORRAL_TOKEN sh -s - [--token-file FILE]
#        [--node-name N] [--node-ip IP] [--cluster-cidr CIDR] [--service-cidr CIDR] [--cluster-domain DOMAIN] [--cluster-dns IP]
#        [--netns-prefix PREFIX]
# The token is never taken from the command line: any user can read a process's arguments.
set -eu
die() { echo "corral install: $*" >&2; exit 1; }
SERVER=${shQuote(o.serverUrl)}
TOKEN=\${CORRAL_TOKEN:-}
NODE_NAME=
NODE_IP=
PASS=
while [ $# -gt 0 ]; do
  case "$1" in
    --token) die "--token would put the join token on the command line, readable by every user of this machine (ps, /proc): export CORRAL_TOKEN=K10... and run with sudo --preserve-env=CORRAL_TOKEN, or use --token-file FILE" ;;
    --token-file) [ -r "$2" ] || die "cannot read the token file $2"; TOKEN=$(cat "$2"); shift 2 ;;
    --server) SERVER=$2; shift 2 ;;
    --node-name) NODE_NAME=$2; shift 2 ;;
    --node-ip) NODE_IP=$2; shift 2 ;;
    --netns-prefix|--cluster-cidr|--service-cidr|--cluster-domain|--cluster-dns) PASS="$PASS $1 $2"; shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done
TOKEN=$(printf '%s' "$TOKEN" | tr -d ' \t\r\n')
[ -n "$TOKEN" ] || die "a join token is required: CORRAL_TOKEN=K10... or --token-file FILE (corral token create, on the server)"
[ "$(id -u)" = 0 ] || die "run as root: ... | sudo --preserve-env=CORRAL_TOKEN sh -s -"
command -v node >/dev/null 2>&1 || die "Node.js >= 20 is required (apt-get install nodejs)"
[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] || die "Node.js >= 20 is required, found $(node --version)"
for b in containerd ctr runc iptables ip; do command -v "$b" >/dev/null 2>&1 || die "$b is missing: apt-get install containerd runc iptables iproute2"; done
want=$(printf '%s' "$TOKEN" | sed -n 's/^K10\\([0-9a-fA-F]\\{64\\}\\)::.*/\\1/p' | tr 'A-F' 'a-f')
[ -n "$want" ] || die "the token does not pin the server CA: use a K10... token from corral token create"
fetch() { node -e ${shQuote(FETCH_JS)} "$@"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fetch "$SERVER/cacerts" "$tmp/ca.crt" insecure
got=$(node -e ${shQuote(CAHASH_JS)} "$tmp/ca.crt")
[ "$got" = "$want" ] || die "the server presents CA $got, but the token pins $want: refusing to trust it"
export CORRAL_FETCH_TOKEN="$TOKEN"
fetch "$SERVER/bundle/corral-agent.cjs" "$tmp/corral-agent.cjs" "$tmp/ca.crt"
fetch "$SERVER/bundle/corral-agent.cjs.sha256" "$tmp/sum" "$tmp/ca.crt"
unset CORRAL_FETCH_TOKEN
echo "$(cut -d' ' -f1 "$tmp/sum")  $tmp/corral-agent.cjs" | sha256sum -c --quiet - || die "the agent bundle's checksum does not match"
mkdir -p ${NODE_PATHS.libDir} ${NODE_PATHS.configDir}
install -m 0644 "$tmp/ca.crt" ${NODE_PATHS.caFile}
install -m 0755 "$tmp/corral-agent.cjs" ${NODE_PATHS.bundle}.new && mv -f ${NODE_PATHS.bundle}.new ${NODE_PATHS.bundle}
set -- install --server "$SERVER"
[ -z "$NODE_NAME" ] || set -- "$@" --node-name "$NODE_NAME"
[ -z "$NODE_IP" ] || set -- "$@" --node-ip "$NODE_IP"
# PASS holds flags with CIDR/prefix values (no spaces): split on purpose.
# shellcheck disable=SC2086
CORRAL_TOKEN=$TOKEN exec node ${NODE_PATHS.bundle} "$@" $PASS
`;
}
