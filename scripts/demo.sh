#!/usr/bin/env bash
# The demo: the Grand Nancy deployment from keys-example/ and config/grand-nancy/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/node-deps.sh
npx tsc -p tsconfig.build.json
exec node dist/gateway/cli/main.js demo "$@"
