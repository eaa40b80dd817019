#!/usr/bin/env bash
# Installs whatever this machine is missing to build and test qualtrics-roster, and nothing
# more: each step checks first, so a machine that has everything is done in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. Debian packages: Chromium + ChromeDriver for browser tests, xmllint for the manifest check,
# PostgreSQL for the hooks' shared store (its tests start a throwaway server with initdb; Debian
# keeps initdb in /usr/lib/postgresql/*/bin, off the PATH).
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v xmllint >/dev/null || missing+=(libxml2-utils)
command -v initdb >/dev/null || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
if ((${#missing[@]})); then
  say "installing ${missing[*]} (apt)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. The wasm32 target.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# 3. wasm-bindgen CLI at exactly the version in Cargo.lock (the CLI and the crate must match).
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  say "installing wasm-bindgen-cli $want (was: ${have:-none}); this takes a few minutes once"
  cargo install -q wasm-bindgen-cli --version "$want" --locked \
    || cargo install -q wasm-bindgen-cli --version "$want"
fi

# 4. npm packages, reinstalled only when package-lock.json changes.
stamp=node_modules/.package-lock.sha256
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > "$stamp"
fi
