#!/usr/bin/env bash
# Refreshes the committed screenshots in docs/ui/ from the browser suite (run by hand after a
# visible change; CI writes its screenshots to a temporary folder and never touches docs/ui/).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs/ui
GANTRY_SCREENSHOTS="$PWD/docs/ui" scripts/browser-test.sh
