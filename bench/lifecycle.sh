#!/usr/bin/env bash
# Lifecycle throughput: our executor vs the sequential loop, 2,000 status changes, 100 ms
# latency, 3,000/min limit. Takes about 4 minutes (the sequential loop alone is ~3.5).
# BENCH_ROWS=500 for a quicker look.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run -q --release -p roster-server --example bench_lifecycle
