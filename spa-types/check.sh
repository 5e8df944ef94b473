#!/usr/bin/env bash
# CI check for the SPA types:
#   1. regenerate them from openapi/openapi.json into a temp file and fail if the committed
#      looker-bff.d.ts differs (the spec changed and nobody ran `npm run generate`);
#   2. type-check the demo SPA (service/demo/static/app.js, JSDoc) against them.
# Run from anywhere: bash spa-types/check.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

spec=../openapi/openapi.json
[[ -f "$spec" ]] || { echo "missing $spec: run  looker-bff export-openapi" >&2; exit 1; }
# The pinned tools from package-lock.json, installed once.
[[ -x node_modules/.bin/openapi-typescript ]] || npm ci --no-audit --no-fund --loglevel=error

fresh="$(mktemp --suffix=.d.ts)"
trap 'rm -f "$fresh"' EXIT
node_modules/.bin/openapi-typescript "$spec" --output "$fresh" --silent
if ! diff -u looker-bff.d.ts "$fresh" > "$fresh.diff"; then
    head -n 60 "$fresh.diff"; rm -f "$fresh.diff"
    echo "spa-types/looker-bff.d.ts is stale: run  npm --prefix spa-types run generate" >&2
    exit 1
fi
rm -f "$fresh.diff"
node_modules/.bin/tsc -p tsconfig.json
echo "spa-types: looker-bff.d.ts matches openapi/openapi.json; the demo SPA type-checks"
