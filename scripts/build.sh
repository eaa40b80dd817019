#!/usr/bin/env bash
# Builds the page's WASM modules (release, wasm-opt) into www/pkg and the server binary: the
# console module (the core's connecting and listing only: what the page and pane load at start),
# the full core (reading files, planning, pulling membership: loaded on first use) and the
# workbook module (loaded when a workbook is used).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=wasm-release
for crate in qualtrics_roster_console qualtrics_roster qualtrics_roster_xlsx; do
  # One crate per build: built together, the core's features would be unified (the full page
  # bindings would end up in the console and workbook modules too).
  cargo build -q -p "$crate" --lib --target wasm32-unknown-unknown --profile "$profile"
  wasm="target/wasm32-unknown-unknown/$profile/$crate.wasm"
  out="www/pkg/${crate}_bg.wasm"
  # wasm-bindgen + wasm-opt only when the module changed (a few seconds saved on every run).
  # Its .d.ts declarations are what `tsc --checkJs` checks www/ against.
  if [ ! -f "$out" ] || [ "$wasm" -nt "$out" ] || [ ! -f "www/pkg/$crate.js" ] || [ ! -f "www/pkg/$crate.d.ts" ]; then
    wasm-bindgen --target web --out-dir www/pkg "$wasm"
    # npm binaryen (Debian's wasm-opt 108 breaks Rust's output); features as rustc emits them.
    node_modules/.bin/wasm-opt -Os --enable-bulk-memory --enable-nontrapping-float-to-int \
      --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
      "$out" -o "$out"
    touch "$out"
  fi
done
# The page's worker talks to it through Comlink (an ES module, served as it is).
cp node_modules/comlink/dist/esm/comlink.min.mjs www/pkg/comlink.mjs
# Its types, beside it, for `tsc --checkJs` (npm run typecheck): Comlink's own declarations.
printf "export * from 'comlink';\n" > www/pkg/comlink.d.mts
cargo build -q -p roster-server -p roster-cli
