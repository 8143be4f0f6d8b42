#!/usr/bin/env bash
# CI smoke test of the fuzz targets (STYLE.md B7): builds every target once and runs
# each for SECONDS (default 5) from its committed seeds. Goes on after a failure,
# then lists the targets that crashed, timed out or ran out of memory, whose inputs
# libFuzzer leaves in fuzz/artifacts/TARGET/, and exits 1 if any did.
#
#   .ci/fuzz-quick.sh [SECONDS]
#
# Built for speed, as a smoke test: without AddressSanitizer (the code under test is
# safe Rust, unsafe_code is denied, so ASan finds little a panic would not, and it
# doubles the build and slows the runs several times) and with 16 codegen units
# (half the build time on 2 cores, for somewhat slower runs). The build goes to
# fuzz/target/quick so that it never invalidates fuzz/run.sh's. Longer runs, with
# ASan: fuzz/run.sh.
set -euo pipefail

seconds=${1:-5}
cd "$(dirname "$0")/../fuzz"

# cargo-fuzz needs nightly compiler flags; this lets the stable toolchain accept them.
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

target_dir="$PWD/target/quick"
cargo fuzz build --sanitizer none --codegen-units 16 --target-dir "$target_dir"
mapfile -t targets < <(cargo fuzz list)
host=$(rustc -vV | sed -n 's/^host: //p')
bin_dir="$target_dir/$host/release"

# New corpus entries and the temp dirs some targets make (queue_file,
# aliases_and_users, maildrop_file) go to a scratch directory, removed at the end.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export TMPDIR="$scratch"

failed=()
for target in "${targets[@]}"; do
    mkdir -p "$scratch/corpus/$target" "artifacts/$target"
    echo "== $target: ${seconds}s"
    # Standard input from /dev/null: an aliases :include: of /dev/stdin must not block.
    if ! "$bin_dir/$target" "$scratch/corpus/$target" "seeds/$target" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="artifacts/$target/" -print_final_stats=1 </dev/null \
        2>"$scratch/$target.log"; then
        failed+=("$target")
        tail -n 60 "$scratch/$target.log"
    fi
    grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units)' "$scratch/$target.log" || true
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz targets failed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "all ${#targets[@]} fuzz targets ran ${seconds}s each without a crash"
