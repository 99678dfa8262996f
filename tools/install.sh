#!/usr/bin/env bash
# Installs the external tools the project needs, from the npm registry, into tools/node_modules:
# Foundry (forge, anvil, cast) and the solc compiler. Idempotent: does nothing when the installed
# set matches tools/package-lock.json.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is required (Node.js 20+); install it with your package manager" >&2
  exit 1
fi
stamp=node_modules/.install-stamp
if [ -f "$stamp" ] && [ "$stamp" -nt package-lock.json ] && [ -x node_modules/.bin/forge ]; then
  exit 0
fi
npm install --no-audit --no-fund --loglevel=error
touch "$stamp"
"$here/node_modules/.bin/forge" --version | head -1
"$here/solc" --version | tail -1
