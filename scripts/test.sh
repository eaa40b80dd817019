#!/usr/bin/env bash
# npm test: install what is missing, build, then every check and test there is.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
step() { printf '\n== %s\n' "$*"; }

step "setup"; bash scripts/setup.sh
step "build"; bash scripts/build.sh
step "format and lints"
cargo fmt --all -- --check
cargo clippy -q --workspace --all-targets -- -D warnings
cargo clippy -q -p qualtrics_roster -p qualtrics_roster_xlsx --lib --tests --target wasm32-unknown-unknown -- -D warnings
# The console module alone: the core's bindings without `sheets` (features are not unified with the full core's).
cargo clippy -q -p qualtrics_roster_console --lib --target wasm32-unknown-unknown -- -D warnings
step "Types: www/ against the WASM bindings' declarations and Office.js's (tsc --checkJs); the house has no circle"
node_modules/.bin/tsc -p tsconfig.json
node scripts/check-declarations.mjs
node scripts/check-house.mjs
step "Rust: core units, sandbox and relay over loopback"
cargo test -q --workspace
step "Rust in headless Chromium: the WASM bindings"
CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=60 \
  cargo test --target wasm32-unknown-unknown --test wasm_bindings
step "Excel host (office-addin-mock) and page and task pane in headless Chromium (Playwright)"
node --test --test-concurrency=1 tests/excel/ tests/e2e/
printf '\nnpm test: all passed in %ss\n' "$(( $(date +%s) - started ))"
