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

# queue_file and aliases_and_users make temp dirs that libFuzzer's exit never
# removes; keep them under target/ and clear them after each target.
export TMPDIR="$PWD/target/fuzz-tmp"

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

cargo fuzz build
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "$TMPDIR"
    echo "== $target: ${seconds}s"
    # Standard input from /dev/null: an aliases :include: of /dev/stdin must not block.
    cargo fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 </dev/null
    rm -rf "$TMPDIR"
done
echo "all ${#targets[@]} targets ran ${seconds}s each without a crash"
