#!/usr/bin/env bash
# Regenerates crates/veo-mcp/symbol-order.txt, the order in which the linker places the server's
# functions (see crates/veo-mcp/build.rs). Run it after changes that rename or add functions on
# the start-up or request path; a stale entry is skipped by the linker, never an error.
# Needs valgrind and python3. Builds the server build the benchmark measures (SQLite only).
set -euo pipefail
cd "$(dirname "$0")/.."
target=target/bench-floor/server-target
cargo build --release --target-dir "$target" -p veo-mcp --no-default-features --bin veo-mcp
cargo build --release --target-dir "$target" -p veo-mock --bin veo-mock
python3 scripts/symbol_order.py "$target/release/veo-mcp" "$target/release/veo-mock" \
    crates/veo-mcp/symbol-order.txt
