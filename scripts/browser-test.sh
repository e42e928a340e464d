#!/usr/bin/env bash
# The web interface's end-to-end suite in Debian's Chromium (playwright-core, axe-core).
# Installs what is missing (chromium from apt; the npm packages into target/test-tools/browser),
# builds the binary, and runs crates/gantry-web/browser/ui.cjs against a server it starts.
# Screenshots go to GANTRY_SCREENSHOTS (a temporary folder unless set; see
# scripts/ui-screenshots.sh for refreshing docs/ui/).
set -euo pipefail
cd "$(dirname "$0")/.."
tools="$PWD/target/test-tools/browser"
if ! command -v chromium >/dev/null; then
  apt-get update -qq && apt-get install -y -qq chromium
fi
if [ ! -d "$tools/node_modules/playwright-core" ] || [ ! -d "$tools/node_modules/axe-core" ]; then
  mkdir -p "$tools"
  cat > "$tools/package.json" <<'JSON'
{ "name": "gantry-browser-tests", "private": true,
  "dependencies": { "playwright-core": "1.49.1", "axe-core": "4.10.2" } }
JSON
  (cd "$tools" && npm install --no-audit --no-fund --loglevel=error)
fi
cargo build --locked -p gantry --quiet
GANTRY_BROWSER_TOOLS="$tools" GANTRY_BIN="$PWD/target/debug/gantry" \
  GANTRY_SHARED="$(cd .. && pwd)/shared" \
  node crates/gantry-web/browser/ui.cjs
