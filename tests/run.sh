#!/usr/bin/env bash
# Runs Postern's whole test suite: unit, property, golden and integration tests.
# Integration tests start the real master from the built binaries, so everything is
# built first (all targets at once, so `cargo test` reuses the same artifacts).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --all-targets
cargo test --workspace
