#!/usr/bin/env bash
# The whole test suite, from a clean clone: system packages, npm packages, build, lint,
# type check, then every test (unit, real-client interop, browser).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh
bash scripts/node-deps.sh
npx tsc -p tsconfig.build.json
npx tsc -p tsconfig.json --noEmit
npx eslint .
npx vitest run "$@"
