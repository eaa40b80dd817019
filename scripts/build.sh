#!/usr/bin/env bash
# Builds the page's WASM core (release, wasm-opt) into www/pkg and the server binary.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=wasm-release
cargo build -q --lib --target wasm32-unknown-unknown --profile "$profile"
wasm="target/wasm32-unknown-unknown/$profile/qualtrics_roster.wasm"
out=www/pkg/qualtrics_roster_bg.wasm
# wasm-bindgen + wasm-opt only when the core changed (a few seconds saved on every run).
if [ ! -f "$out" ] || [ "$wasm" -nt "$out" ] || [ ! -f www/pkg/qualtrics_roster.js ]; then
  wasm-bindgen --target web --no-typescript --out-dir www/pkg "$wasm"
  # npm binaryen (Debian's wasm-opt 108 breaks Rust's output); features as rustc emits them.
  node_modules/.bin/wasm-opt -Os --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$out" -o "$out"
  touch "$out"
fi
cargo build -q -p roster-server
