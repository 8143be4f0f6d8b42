#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each (default 60), stopping
# at the first crash, whose input libFuzzer leaves in fuzz/artifacts/TARGET/.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# cargo-fuzz needs nightly compiler flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain
# accept them. Each target reads the committed seeds in seeds/TARGET and grows its
# corpus in corpus/TARGET (not committed).
set -euo pipefail

seconds=${1:-60}
shift || true
cd "$(dirname "$0")"

export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

# Build once, then run the binaries as `cargo fuzz run` would: it rebuilds before
# every target, so edits made to the workspace during a long run would change (or
# break) what the later targets run.
cargo fuzz build
host=$(rustc -vV | sed -n 's/^host: //p')
bin_dir="$PWD/target/$host/release"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_odr_violation=0}"

# Some targets (queue_file, aliases_and_users, maildrop_file) make temp dirs that
# libFuzzer's exit never removes; keep them under target/ and clear them after each.
export TMPDIR="$PWD/target/fuzz-tmp"

for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "artifacts/$target" "$TMPDIR"
    echo "== $target: ${seconds}s"
    # Standard input from /dev/null: an aliases :include: of /dev/stdin must not block.
    "$bin_dir/$target" "corpus/$target" "seeds/$target" -max_total_time="$seconds" \
        -timeout=10 -artifact_prefix="artifacts/$target/" -print_final_stats=1 </dev/null
    rm -rf "$TMPDIR"
done
echo "all ${#targets[@]} targets ran ${seconds}s each without a crash"
