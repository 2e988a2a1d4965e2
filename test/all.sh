#!/usr/bin/env bash
# Runs the whole test suite from a fresh checkout: installs what the tests need (Debian packages
# with apt-get, npm packages with npm ci), builds, then runs every tier (or the tiers/files named
# as arguments). The last line printed is "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/setup.sh >&2
npm run --silent build >&2
exec node dist/test/run.js "$@"
