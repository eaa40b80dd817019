#!/usr/bin/env bash
# npm start: install what is missing, build, and serve the page, the relay and the sandbox brand
# on http://127.0.0.1:8080, and the Excel add-in's task pane on https://localhost:3000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh

args=(--www www --sandbox)
https_port="${ROSTER_HTTPS_PORT:-3000}"
if [ -n "${ROSTER_TLS_CERT:-}" ] && [ -n "${ROSTER_TLS_KEY:-}" ]; then
  args+=(--https-port "$https_port")   # the server reads ROSTER_TLS_CERT / ROSTER_TLS_KEY
else
  certs="$HOME/.office-addin-dev-certs"
  if [ ! -f "$certs/localhost.crt" ]; then
    echo "Creating a development certificate for https://localhost (office-addin-dev-certs)."
    echo "It asks to trust its CA so Excel accepts the task pane; you may be asked for your password."
    node_modules/.bin/office-addin-dev-certs install --days 365 || true
  fi
  if [ -f "$certs/localhost.crt" ] && [ -f "$certs/localhost.key" ]; then
    args+=(--https-port "$https_port" --tls-cert "$certs/localhost.crt" --tls-key "$certs/localhost.key")
  else
    echo "No certificate: serving http only. Set ROSTER_TLS_CERT and ROSTER_TLS_KEY to use your own."
  fi
fi

echo
echo "Open the http URL below in a browser, or sideload manifest.xml in Excel (see README). Stop with Ctrl+C."
echo "Settings: ROSTER_PORT (default 8080), ROSTER_HTTPS_PORT (3000), ROSTER_RELAY_UPSTREAM=sandbox."
exec target/debug/roster-server "${args[@]}" "$@"
