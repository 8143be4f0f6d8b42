#!/usr/bin/env bash
# Runs Postern's whole test suite: unit, property, golden and integration tests.
# Integration tests start the real master from the built binaries, so everything is
# built first (all targets at once, so `cargo test` reuses the same artifacts).
# The last line sums up every test binary's results.
set -euo pipefail
cd "$(dirname "$0")/.."
# Dovecot and Postern take turns on one Maildir in the mail store's interoperability
# tests (a drop-in check), with Dovecot's own IMAP server for folders and flags.
if ! command -v doveadm >/dev/null 2>&1 || [ ! -x /usr/lib/dovecot/imap ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-core dovecot-imapd >/dev/null
    else
        echo "tests/run.sh: dovecot-core/dovecot-imapd are not installed; the interoperability tests will be skipped" >&2
    fi
fi
cargo build --workspace --all-targets
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
