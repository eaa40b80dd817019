#!/usr/bin/env bash
# npm start: install what is missing, build, and serve the page, the relay and the sandbox brand.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
echo
echo "Open the URL below in a browser. Stop with Ctrl+C."
echo "Settings: ROSTER_PORT (default 8080), ROSTER_RELAY_UPSTREAM=sandbox to point the relay at the sandbox."
exec target/debug/roster-server --www www "$@"
