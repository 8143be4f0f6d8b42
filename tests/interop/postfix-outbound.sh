#!/usr/bin/env bash
# tests/interop/postfix-outbound.sh: Postern's outbound SMTP client against a real Postfix.
#
# Checks that Postern's `smtp` delivery agent and a stock Debian Postfix exchange mail
# in both directions. Everything runs on 127.0.0.1 high ports and needs no DNS.
#
#   Direction A: test client -> Postern smtpd -> qmgr -> smtp (relayhost) -> Postfix
#                smtpd -> Postfix virtual(8) -> Maildir under the temp dir.
#     A1-A6  a plain and an 8-bit UTF-8 message (BODY=8BITMIME) arrive byte for byte;
#            Postern logs relay=127.0.0.1[127.0.0.1]:PORT_P and status=sent with
#            Postfix's "250 2.0.0 Ok: ... queued as ID", and Postfix logs those IDs
#            as delivered; the session used STARTTLS (Postfix's log, and "using
#            TLSv1.x" in its Received: header) and BDAT, as Postfix offers CHUNKING.
#     A7-A9  a recipient Postfix does not know is refused with 550 5.1.1; Postern
#            logs status=bounced with Postfix's text and the sender gets a DSN.
#   Direction B: test client -> Postfix smtpd -> Postfix smtp (relayhost) -> Postern
#                smtpd -> local -> Maildir of bob@pn.test.
#     B1-B4  the message arrives, Postfix logs relay=127.0.0.1[127.0.0.1]:PORT_N
#            status=sent, its client used STARTTLS, and Postern's queue is empty.
#   Direction A over DATA: Postfix is reloaded with CHUNKING hidden
#   (smtpd_discard_ehlo_keywords), so Postern falls back to DATA.
#     C1-C5  "status=sent (250 2.0.0 Ok: queued as ID)", a leading-dot line survives
#            dot-stuffing, an 8-bit body arrives unchanged, Postfix counted data=.
#
# Needs: root, Debian (apt-get, debconf), python3 (smtplib), openssl, script(1)
# (util-linux; optional, it makes Postfix's commands print their errors), and
# Postern's binaries, built with `cargo build --workspace --bins`.
#
# Usage (as root, on Debian, from anywhere):
#
#   tests/interop/postfix-outbound.sh
#
# Environment:
#   KEEP=1            keep the temporary directory (configs, logs, Maildirs) afterwards
#   BIN_DIR=DIR       where Postern's binaries are (default: target/debug of this tree);
#                     they are copied into the temporary directory first, so a cargo
#                     build running meanwhile cannot mix old and new daemons
#   MAIL_OWNER=USER   the unprivileged user Postern's daemons run as (default
#                     postern-test, created as a system user when missing, as the
#                     Rust test suite does)
#   TIMEOUT=SECONDS   how long to wait for each delivery (default 60); once one wait
#                     has run out, later ones get at most 10 seconds, so a run where
#                     mail does not move at all ends in minutes, not a quarter hour
#
# It installs the postfix package when it is missing (preseeded as "No configuration",
# so no system Postfix is configured or started by the install). It never touches an
# existing system Postfix: the private instance has its own config_directory,
# queue_directory and data_directory in a temporary directory, all services run
# without chroot, and it logs to a file through postlogd (no syslog needed).
#
# Exit status: 0 when every check passed, 1 when one failed, 2 when the setup failed.

set -uo pipefail
# postfix, postconf and useradd live in sbin, missing from some root PATHs (su, sudo).
export PATH=$PATH:/usr/sbin:/sbin

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/stop.sh
. "$REPO/tests/lib/stop.sh"
# shellcheck source=../lib/postfix.sh
. "$REPO/tests/lib/postfix.sh"
BIN_DIR=${BIN_DIR:-$REPO/target/debug}
MAIL_OWNER=${MAIL_OWNER:-postern-test}
TIMEOUT=${TIMEOUT:-60}
KEEP=${KEEP:-0}

WORK=""
POSTFIX_STARTED=0
POSTERN_PID=""
declare -a RESULTS=()
FAILURES=0

say() { printf '== %s\n' "$*"; }
die() {
    printf 'SETUP FAILED: %s\n' "$*" >&2
    dump_logs
    exit 2
}

# --- cleanup ---------------------------------------------------------------------

stop_postern() {
    stop_master "$POSTERN_PID"
    POSTERN_PID=""
}

stop_postfix() {
    [ "$POSTFIX_STARTED" = 1 ] || return 0
    postfix_cmd stop
    POSTFIX_STARTED=0
    wait_cwd_gone "$PF_DIR/spool"
}

cleanup() {
    stop_postern
    stop_postfix
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        if [ "$KEEP" = 1 ]; then
            echo "kept $WORK"
        else
            rm -rf -- "$WORK"
        fi
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

dump_logs() {
    [ -n "$WORK" ] || return 0
    if [ -s "${PN_LOG:-/nonexistent}" ]; then
        echo "--- Postern maillog (tail) ---"; tail -n 40 "$PN_LOG"
    fi
    if [ -s "${PN_DIR:-/nonexistent}/master.stderr" ]; then
        echo "--- Postern master stderr ---"; tail -n 20 "$PN_DIR/master.stderr"
    fi
    if [ -s "${PF_LOG:-/nonexistent}" ]; then
        echo "--- Postfix maillog (tail) ---"; tail -n 40 "$PF_LOG"
    fi
}

# --- helpers ---------------------------------------------------------------------

# record NAME STATUS [DETAIL]: remember one check's result.
record() {
    local name=$1 ok=$2 detail=${3:-}
    if [ "$ok" = 0 ]; then
        RESULTS+=("PASS  $name")
        printf 'PASS  %s\n' "$name"
    else
        RESULTS+=("FAIL  $name${detail:+ ($detail)}")
        printf 'FAIL  %s%s\n' "$name" "${detail:+ ($detail)}"
        FAILURES=$((FAILURES + 1))
    fi
}

# check NAME COMMAND...: runs the command once and records its result.
check() {
    local name=$1; shift
    "$@" >/dev/null 2>&1
    record "$name" $?
}

# wait_for SECONDS COMMAND...: polls the command every half second until it succeeds.
# After the first wait that runs out, the rest are capped (see TIMEOUT above).
TIMED_OUT=0
wait_for() {
    local seconds=$1; shift
    if [ "$TIMED_OUT" = 1 ] && [ "$seconds" -gt 10 ]; then
        seconds=10
    fi
    local deadline=$((SECONDS + seconds))
    while :; do
        "$@" >/dev/null 2>&1 && return 0
        if [ "$SECONDS" -ge "$deadline" ]; then
            TIMED_OUT=1
            return 1
        fi
        sleep 0.5
    done
}

# free_ports N: N distinct TCP ports on 127.0.0.1 that were free a moment ago.
free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))
PY
}

# smtp_send PORT FROM TO FILE: submits FILE (the whole message, any line endings) over
# SMTP with EHLO; uses BODY=8BITMIME when the message has 8-bit bytes.
smtp_send() {
    python3 - "$@" <<'PY'
import re, smtplib, sys
port, sender, rcpt, path = sys.argv[1:5]
# SMTP wants CRLF line ends (both servers refuse bare LF); smtplib leaves bytes alone.
data = re.sub(rb"\r?\n", b"\r\n", open(path, "rb").read())
options = ["BODY=8BITMIME"] if any(b > 127 for b in data) else []
with smtplib.SMTP("127.0.0.1", int(port), local_hostname="client.test", timeout=30) as s:
    refused = s.sendmail(sender, [rcpt], data, mail_options=options)
    if refused:
        sys.exit("refused: %r" % refused)
PY
}

# maildir_grep DIR PATTERN: true when a message in the Maildir DIR (its new/)
# contains PATTERN (fixed string).
maildir_grep() {
    [ -d "$1/new" ] || return 1
    grep -rlF -- "$2" "$1/new" >/dev/null 2>&1
}

# maildir_file DIR PATTERN: the path of the first message in DIR/new containing PATTERN.
maildir_file() {
    grep -rlF -- "$2" "$1/new" 2>/dev/null | head -n 1
}

# log_has FILE PATTERN...: true when one line of FILE contains every PATTERN.
log_has() {
    local file=$1; shift
    local lines
    lines=$(cat -- "$file" 2>/dev/null) || return 1
    local p
    for p in "$@"; do
        lines=$(printf '%s\n' "$lines" | grep -F -- "$p") || return 1
    done
    [ -n "$lines" ]
}

# --- preconditions ---------------------------------------------------------------

[ "$(id -u)" = 0 ] || { echo "run this as root (it installs and starts a private Postfix)" >&2; exit 2; }
for tool in python3 openssl; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
for program in master smtpd qmgr local smtp postern; do
    [ -x "$BIN_DIR/$program" ] || die "$BIN_DIR/$program missing: build with 'cargo build --workspace --bins'"
done

if ! command -v postfix >/dev/null || ! command -v postconf >/dev/null; then
    say "installing postfix"
    # "No configuration": the package writes no /etc/postfix/main.cf and starts nothing.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y postfix >/dev/null 2>&1; then
        apt-get update >/dev/null 2>&1 || die "apt-get update failed"
        apt-get install -y postfix >/dev/null 2>&1 || die "apt-get install postfix failed"
    fi
fi
PF_VERSION=$(postconf -d -h mail_version 2>/dev/null) || die "postconf does not work"
PF_DAEMON_DIR=$(postconf -d -h daemon_directory)
id postfix >/dev/null 2>&1 || die "the postfix user is missing (broken postfix package?)"
getent group postdrop >/dev/null || die "the postdrop group is missing (broken postfix package?)"

if ! id "$MAIL_OWNER" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$MAIL_OWNER" ||
        die "cannot create mail_owner $MAIL_OWNER"
fi
[ "$(id -u "$MAIL_OWNER")" != 0 ] || die "MAIL_OWNER must not be root"

# --- layout ----------------------------------------------------------------------

WORK=$(mktemp -d /tmp/postfix-interop.XXXXXX) || die "mktemp"
# Both mail owners (postfix and $MAIL_OWNER) must reach their directories inside.
chmod 755 "$WORK"

read -r PORT_P PORT_N <<<"$(free_ports 2)"
[ -n "$PORT_P" ] && [ -n "$PORT_N" ] || die "no free ports"

# A private copy of Postern's programs (see BIN_DIR above).
PN_BIN=$WORK/bin
mkdir -p "$PN_BIN"
for program in master smtpd qmgr local smtp postern; do
    cp -- "$BIN_DIR/$program" "$PN_BIN/$program" || die "copy $BIN_DIR/$program"
done

PF_DIR=$WORK/postfix
PF_ETC=$PF_DIR/etc
PF_LOG=$PF_DIR/maillog
PF_MAIL=$PF_DIR/vmail
PN_DIR=$WORK/postern
PN_ETC=$PN_DIR/etc
PN_LOG=$PN_DIR/maillog
PN_MAIL=$PN_DIR/mail
mkdir -p "$PF_ETC" "$PF_DIR/spool" "$PF_DIR/data" "$PF_MAIL" "$PN_ETC"

say "Postfix $PF_VERSION on 127.0.0.1:$PORT_P (domain pf.test), Postern on 127.0.0.1:$PORT_N (domain pn.test)"
say "work directory $WORK"

# --- the private Postfix ---------------------------------------------------------

# A throw-away certificate so Postfix's smtpd offers STARTTLS.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mx.pf.test \
    -keyout "$PF_ETC/tls.key" -out "$PF_ETC/tls.crt" >/dev/null 2>&1 || die "openssl req"
chmod 600 "$PF_ETC/tls.key"

# data_directory belongs to Postfix's mail_owner (post-install creates the spool).
chown postfix: "$PF_DIR/data"

# Virtual mailboxes are stored as nobody:nogroup.
VMAIL_UID=$(id -u nobody)
VMAIL_GID=$(id -g nobody)
chown "$VMAIL_UID:$VMAIL_GID" "$PF_MAIL"

# Two known users; anything else @pf.test is refused at RCPT with 550 5.1.1.
cat >"$PF_ETC/vmailbox" <<EOF
user@pf.test    pf.test/user/
carol@pf.test   pf.test/carol/
EOF

cat >"$PF_ETC/main.cf" <<EOF
# Private Postfix instance for tests/interop/postfix-outbound.sh.
compatibility_level = 3.6
queue_directory = $PF_DIR/spool
data_directory = $PF_DIR/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $PF_LOG
maillog_file_prefixes = $WORK

myhostname = mx.pf.test
mydomain = pf.test
myorigin = \$myhostname
mydestination = localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
smtpd_banner = \$myhostname ESMTP Postfix (interop test)

# Mail for pf.test goes into Maildirs under $PF_MAIL.
virtual_mailbox_domains = pf.test
virtual_mailbox_maps = texthash:\$config_directory/vmailbox
virtual_mailbox_base = $PF_MAIL
virtual_minimum_uid = 1
virtual_uid_maps = static:$VMAIL_UID
virtual_gid_maps = static:$VMAIL_GID

# Everything else (pn.test) goes to Postern.
relayhost = [127.0.0.1]:$PORT_N

# STARTTLS both ways, logged.
smtpd_tls_security_level = may
smtpd_tls_cert_file = \$config_directory/tls.crt
smtpd_tls_key_file = \$config_directory/tls.key
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtp_tls_security_level = may
smtp_tls_loglevel = 1

# Retry quickly should Postern be slow to come up.
queue_run_delay = 10s
minimal_backoff_time = 10s
maximal_backoff_time = 20s
EOF

# Only the services this test needs, none chrooted.
postfix_master_cf "127.0.0.1:$PORT_P" >"$PF_ETC/master.cf"

postfix_cmd check || die "postfix check: $(cat "$PF_DIR/postfix.out")"
postfix_cmd start || die "postfix start: $(cat "$PF_DIR/postfix.out")"
POSTFIX_STARTED=1
wait_for 30 port_open "$PORT_P" || die "Postfix does not listen on 127.0.0.1:$PORT_P"

# --- the Postern instance --------------------------------------------------------

cat >"$PN_ETC/main.cf" <<EOF
# Postern instance for tests/interop/postfix-outbound.sh.
queue_directory = $PN_DIR/spool
maillog_file = $PN_LOG
daemon_directory = $PN_BIN
mail_owner = $MAIL_OWNER
myhostname = mx.pn.test
mydestination = localhost
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
service_throttle_time = 2s
daemon_shutdown_timeout = 5s

virtual_mailbox_domains = pn.test
virtual_user_maps = passwd-file:\$config_directory/users
virtual_mailbox_base = $PN_MAIL
alias_maps = hash:\$config_directory/aliases

# Everything that is not ours goes to the Postfix above, over STARTTLS when offered.
relayhost = [127.0.0.1]:$PORT_P
smtp_tls_security_level = may
EOF

cat >"$PN_ETC/master.cf" <<EOF
127.0.0.1:$PORT_N inet n - n - - smtpd
qmgr   unix - - n - 1 qmgr
local  unix - - n - - local
smtp   unix - - n - - smtp
EOF

cat >"$PN_ETC/users" <<'EOF'
alice@pn.test:{PLAIN}alice-secret
bob@pn.test:{PLAIN}bob-secret
EOF
: >"$PN_ETC/aliases"

"$PN_BIN/master" -c "$PN_ETC" </dev/null >"$PN_DIR/master.stdout" 2>"$PN_DIR/master.stderr" &
POSTERN_PID=$!
wait_for 30 port_open "$PORT_N" || die "Postern does not listen on 127.0.0.1:$PORT_N"
# The unix services (qmgr, smtp, local) come up with it; give master a moment to report them.
wait_for 30 "$PN_BIN/postern" -c "$PN_ETC" status || die "postern status fails"

# --- messages --------------------------------------------------------------------

RUN_ID=$(date +%s).$$
MSG=$WORK/messages
mkdir -p "$MSG"

cat >"$MSG/plain.eml" <<EOF
From: Alice <alice@pn.test>
To: User <user@pf.test>
Subject: interop plain $RUN_ID
Message-ID: <plain.$RUN_ID@pn.test>
Date: $(date -R)

Hello Postfix, this is Postern (plain $RUN_ID).
EOF

cat >"$MSG/utf8.eml" <<EOF
From: Alice <alice@pn.test>
To: User <user@pf.test>
Subject: interop utf8 $RUN_ID
Message-ID: <utf8.$RUN_ID@pn.test>
Date: $(date -R)
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Café crème, déjà vu: 8-bit body $RUN_ID.
EOF

cat >"$MSG/unknown.eml" <<EOF
From: Alice <alice@pn.test>
To: <nosuchuser@pf.test>
Subject: interop unknown $RUN_ID
Message-ID: <unknown.$RUN_ID@pn.test>
Date: $(date -R)

Postfix should refuse this recipient.
EOF

cat >"$MSG/inbound.eml" <<EOF
From: Carol <carol@pf.test>
To: Bob <bob@pn.test>
Subject: interop inbound $RUN_ID
Message-ID: <inbound.$RUN_ID@pf.test>
Date: $(date -R)

Hello Postern, this is Postfix (inbound $RUN_ID).
EOF

# --- direction A: Postern -> Postfix ---------------------------------------------

say "direction A: Postern smtp -> Postfix"
smtp_send "$PORT_N" alice@pn.test user@pf.test "$MSG/plain.eml" || die "Postern smtpd refused the plain message"
smtp_send "$PORT_N" alice@pn.test user@pf.test "$MSG/utf8.eml" || die "Postern smtpd refused the 8-bit message"
smtp_send "$PORT_N" alice@pn.test nosuchuser@pf.test "$MSG/unknown.eml" || die "Postern smtpd refused the unknown-user message"

USER_MAILDIR=$PF_MAIL/pf.test/user

wait_for "$TIMEOUT" maildir_grep "$USER_MAILDIR" "plain.$RUN_ID@pn.test"
record "A1 plain message relayed by Postern arrives in Postfix's Maildir" $?

# Postfix offers CHUNKING, so Postern sends BDAT, and Postfix answers BDAT LAST with
# "250 2.0.0 Ok: N bytes queued as ID" (after DATA it is "Ok: queued as ID"; the C
# checks below cover that path).
wait_for "$TIMEOUT" log_has "$PN_LOG" "to=<user@pf.test>" "relay=127.0.0.1[127.0.0.1]:$PORT_P" "status=sent (250 2.0.0 Ok: " " queued as "
record "A2 Postern logs relay=127.0.0.1[127.0.0.1]:$PORT_P status=sent (250 2.0.0 Ok: ... queued as ID)" $?

# Postfix logs the session's command counts when Postern closes its cached
# connection (smtp_connection_cache_time_limit, 2s by default).
wait_for 20 log_has "$PF_LOG" "disconnect from" "starttls=1" "bdat="
record "A3 Postern used BDAT (Postfix counted bdat= for its session)" $?

# The Postfix queue IDs Postern got back must be the ones Postfix delivered.
ids_match() {
    local ids id
    ids=$(grep -F "relay=127.0.0.1[127.0.0.1]:$PORT_P" "$PN_LOG" | grep -F "status=sent" |
        sed -n 's/.* queued as \([0-9A-Za-z]*\).*/\1/p' | sort -u)
    [ -n "$ids" ] || return 1
    for id in $ids; do
        log_has "$PF_LOG" " $id: " "to=<user@pf.test>" "relay=virtual" "status=sent" || return 1
    done
}
wait_for 10 ids_match
record "A4 Postfix delivered the queue IDs it answered Postern with" $?

PLAIN_FILE=$(maildir_file "$USER_MAILDIR" "plain.$RUN_ID@pn.test")
tls_used() {
    log_has "$PF_LOG" "TLS connection established from" &&
        [ -n "$PLAIN_FILE" ] &&
        sed '/^$/q' "$PLAIN_FILE" | grep -q "(using TLSv1\.[23] with cipher"
}
check "A5 Postern used STARTTLS (Postfix's log and Received: header say TLS)" tls_used

wait_for "$TIMEOUT" maildir_grep "$USER_MAILDIR" "utf8.$RUN_ID@pn.test"
utf8_intact() {
    local file
    file=$(maildir_file "$USER_MAILDIR" "utf8.$RUN_ID@pn.test")
    [ -n "$file" ] && grep -qF "Café crème, déjà vu: 8-bit body $RUN_ID." "$file" &&
        grep -qi '^Content-Transfer-Encoding: 8bit' "$file"
}
check "A6 8-bit UTF-8 body arrives unchanged (é as UTF-8, still 8bit)" utf8_intact

wait_for "$TIMEOUT" log_has "$PN_LOG" "to=<nosuchuser@pf.test>" "status=bounced" "550 5.1.1"
record "A7 unknown recipient: Postern logs status=bounced with Postfix's 550 5.1.1" $?

check "A8 Postern's bounce line carries Postfix's reply text" \
    log_has "$PN_LOG" "to=<nosuchuser@pf.test>" "status=bounced" "User unknown in virtual mailbox table"

bounce_received() {
    local file
    file=$(maildir_file "$PN_MAIL/pn.test/alice" "Final-Recipient: rfc822; nosuchuser@pf.test")
    [ -n "$file" ] && grep -qF "550 5.1.1" "$file" && grep -qF "Recipient address rejected" "$file"
}
wait_for "$TIMEOUT" bounce_received
record "A9 the sender alice@pn.test gets a bounce (DSN) quoting Postfix's 550 5.1.1" $?

# --- direction B: Postfix -> Postern ---------------------------------------------

say "direction B: Postfix smtp -> Postern smtpd"
smtp_send "$PORT_P" carol@pf.test bob@pn.test "$MSG/inbound.eml" || die "Postfix smtpd refused the message for bob@pn.test"

wait_for "$TIMEOUT" maildir_grep "$PN_MAIL/pn.test/bob" "inbound.$RUN_ID@pf.test"
record "B1 message relayed by Postfix arrives in Postern's Maildir for bob@pn.test" $?

wait_for 10 log_has "$PF_LOG" "to=<bob@pn.test>" "relay=127.0.0.1[127.0.0.1]:$PORT_N" "status=sent (250"
record "B2 Postfix logs relay=127.0.0.1[127.0.0.1]:$PORT_N status=sent (250 ...)" $?

check "B3 Postfix's client used STARTTLS towards Postern" \
    log_has "$PF_LOG" "TLS connection established to 127.0.0.1[127.0.0.1]:$PORT_N"

postern_queue_empty() {
    local q
    for q in incoming active deferred; do
        [ -z "$(ls -A "$PN_DIR/spool/$q" 2>/dev/null)" ] || return 1
    done
}
wait_for 10 postern_queue_empty
record "B4 Postern's queue is empty afterwards" $?

# --- direction A over DATA: Postfix without CHUNKING ------------------------------

say "direction A again, over DATA: Postfix reloaded without CHUNKING"
postconf -c "$PF_ETC" -e "smtpd_discard_ehlo_keywords = chunking" || die "postconf -e"
postfix_cmd reload || die "postfix reload: $(cat "$PF_DIR/postfix.out")"
# Let Postern's cached connection (smtp_connection_cache_time_limit, 2s) to the old
# smtpd expire, so the next delivery sees the new EHLO.
sleep 3

cat >"$MSG/data-plain.eml" <<EOF
From: Alice <alice@pn.test>
To: User <user@pf.test>
Subject: interop data $RUN_ID
Message-ID: <data.$RUN_ID@pn.test>
Date: $(date -R)

Hello again, this time over DATA ($RUN_ID).
.leading dot must survive dot-stuffing
EOF

cat >"$MSG/data-utf8.eml" <<EOF
From: Alice <alice@pn.test>
To: User <user@pf.test>
Subject: interop data utf8 $RUN_ID
Message-ID: <data-utf8.$RUN_ID@pn.test>
Date: $(date -R)
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Noël à Zürich: 8-bit body over DATA $RUN_ID.
EOF

smtp_send "$PORT_N" alice@pn.test user@pf.test "$MSG/data-plain.eml" || die "Postern smtpd refused the DATA message"
smtp_send "$PORT_N" alice@pn.test user@pf.test "$MSG/data-utf8.eml" || die "Postern smtpd refused the 8-bit DATA message"

wait_for "$TIMEOUT" log_has "$PN_LOG" "to=<user@pf.test>" "relay=127.0.0.1[127.0.0.1]:$PORT_P" "status=sent (250 2.0.0 Ok: queued as "
record "C1 Postern logs relay=127.0.0.1[127.0.0.1]:$PORT_P status=sent (250 2.0.0 Ok: queued as ID)" $?

data_plain_ok() {
    local file
    file=$(maildir_file "$USER_MAILDIR" "data.$RUN_ID@pn.test")
    [ -n "$file" ] && grep -q '^\.leading dot must survive dot-stuffing' "$file" &&
        ! grep -q '^\.\.leading' "$file"
}
wait_for "$TIMEOUT" data_plain_ok
record "C2 message over DATA arrives, a leading-dot line intact" $?

data_utf8_ok() {
    local file
    file=$(maildir_file "$USER_MAILDIR" "data-utf8.$RUN_ID@pn.test")
    [ -n "$file" ] && grep -qF "Noël à Zürich: 8-bit body over DATA $RUN_ID." "$file"
}
wait_for "$TIMEOUT" data_utf8_ok
record "C3 8-bit UTF-8 body over DATA arrives unchanged" $?

# A session from Postern (the only TLS client of Postfix's smtpd) that used DATA.
data_session_seen() {
    grep -F "disconnect from" "$PF_LOG" | grep -F "starttls=1" | grep -F " data=" | grep -vqF "bdat="
}
wait_for 20 data_session_seen
record "C4 Postern used DATA (Postfix counted data=, no bdat=, for its session)" $?

wait_for 10 ids_match
record "C5 Postfix delivered every queue ID it answered Postern with" $?

# --- summary ---------------------------------------------------------------------

echo
echo "Summary (Postfix $PF_VERSION, Postern $BIN_DIR):"
printf '  %s\n' "${RESULTS[@]}"
if [ "$FAILURES" -gt 0 ]; then
    echo "$FAILURES check(s) FAILED"
    if grep -q "version mismatch" "$PN_LOG" 2>/dev/null; then
        echo "note: Postern's daemons disagree on the IPC version: $BIN_DIR holds binaries from different builds (a build in progress?)"
    fi
    dump_logs
    exit 1
fi
echo "all ${#RESULTS[@]} checks passed"
exit 0
