#!/usr/bin/env bash
# tests/bench/compare.sh: Postern against Postfix + Dovecot on the same machine, under
# the same loads (a benchmark, not a test).
#
# Run as root on Debian, from anywhere:
#
#   tests/bench/compare.sh                 # the full run (an hour or more)
#   QUICK=1 tests/bench/compare.sh         # small numbers, a few minutes
#
# It installs postfix (preseeded "No configuration": no system instance is configured
# or started), dovecot-imapd and dovecot-pop3d when missing, builds Postern in release
# mode, and starts, in a temporary directory, on 127.0.0.1 high ports:
#
#   - a private Postfix (own config_directory, queue_directory, data_directory, log
#     file through postlogd, no chroot) accepting mail for bench.test and delivering it
#     with virtual(8) into Maildirs, with Postfix's default durability (queue files and
#     Maildir files fsynced);
#   - a private Dovecot (own base_dir and config file, IMAP and POP3 listeners,
#     passwd-file users, mail_location maildir on those same Maildirs);
#   - a Postern instance (own queue_directory, virtual_mailbox_domains = bench.test,
#     smtpd, qmgr, local, smtp, pop3d and imapd), its daemons running as BENCH_USER.
#
# Both send mail for other domains to relayhost [127.0.0.1]:SINK_PORT. After a smoke
# test of every path (one message in by SMTP and out by POP3, IMAP and the relay), the
# load tool target/release/postern-bench (crate crates/mailbench) runs each workload
# against one side and then the other (A B A B ...) for ROUNDS rounds:
#
#   smtp    SMTP into the Maildir, end to end (the clock stops when the last message is
#           in the Maildir): SMTP_MESSAGES of 2 KB with 1, 10 and 50 sessions
#   big     the same with BIG_MESSAGES of 1 MB
#   relay   RELAY_MESSAGES of 2 KB to a remote domain, relayed to `postern-bench sink`;
#           the clock stops when the sink has them all
#   pop3    one POP3 session retrieves POP3_MESSAGES of 2 KB; "first login" on a fresh
#           copy of the Maildir (indexing included), then "warm" on the same one
#   imap    SELECT, FETCH 1:* (FLAGS), ENVELOPE and SEARCH on mailboxes of
#           IMAP_SIZES messages, written directly as Maildir files; each server indexes
#           the fresh copy once ("first SELECT", "first ENVELOPE": recorded, not part
#           of the warm rows)
#   idle    IDLE_CONNECTIONS logged-in IMAP connections in IDLE: memory per connection,
#           as the growth of the tree's summed VmRSS (the load tool) and of its summed
#           Pss (sampled here; fair to Dovecot's process per connection). Both servers
#           use an inotify instance per idling session, so fs.inotify.max_user_instances
#           is raised for the run when lower than 2 x IDLE_CONNECTIONS + 1000 (and put
#           back on exit); ulimit -n is raised to its hard limit
#   accept  acceptance only, delivery held (Postfix: defer_transports = virtual;
#           Postern: no `local` in master.cf): the clock stops at the last 250
#
# Then it prints one Markdown table (medians; Postern's rate over the other's, as "x
# faster"/"x slower") and writes it to RESULTS; every run's JSON is kept next to it
# (RESULTS with .jsonl for .md). CPU per operation is the server tree's
# utime+stime+cutime+cstime from /proc before and after each run (so processes that
# exited meanwhile count); peak RSS and p99 come from the load tool.
#
# Both sides keep their defaults except where noted in the configurations below:
# the only change to Postern is mailbox_size_limit = 0 (Postfix's virtual(8) has no
# whole-Maildir quota). Defaults that differ and show in the numbers: Postfix's
# in_flow_delay (1s) slows SMTP clients while its queue manager lags behind, which
# shows as a p99 near one second with 50 sessions; Postern also fsyncs the Maildir
# directory after a delivery; Dovecot runs one process per IMAP or POP3 session
# (Debian's default service settings, limits raised for the idle connections). No TLS.
#
# Environment (defaults in brackets; QUICK=1 changes the sizes' defaults):
#   ROUNDS=N             rounds per workload [3]
#   QUICK=1              small and fast: 200 x 2 KB, 20 x 1 MB, sessions 1 10,
#                        1,000-message IMAP folder, 200 idle connections
#   WORKLOADS="..."      which of: smtp big relay pop3 imap idle accept [all]
#   SMTP_MESSAGES, BIG_MESSAGES, RELAY_MESSAGES, POP3_MESSAGES [5000, 500, 5000, 5000]
#   SESSIONS="1 10 50"   SMTP sessions for smtp, big and accept
#   RELAY_SESSIONS=10    SMTP sessions for relay
#   IMAP_SIZES="10000 100000", IMAP_ITERATIONS=5, IDLE_CONNECTIONS=5000
#   RESULTS=FILE         the table [/tmp/postern-compare.md]
#   KEEP=1               keep the temporary directory (configs, logs, Maildirs)
#   BENCH_USER=NAME      the system user the Maildirs, Postern's daemons and Dovecot's
#                        mail processes run as [postern-bench, created when missing]
#   SKIP_BUILD=1         use target/release as it is
#   RUN_TIMEOUT=SECONDS  limit on one run of the load tool [1800]
#   BENCH_TOOL=PATH      another load tool with postern-bench's command line
#
# Exit status: 0 all runs succeeded; 1 a run failed or reported errors (the table
# lists it); 2 the setup failed or the load tool is missing.

set -uo pipefail
export PATH=$PATH:/usr/sbin:/sbin
# The helper imports tests/bench/*.py: leave no __pycache__ in the tree.
export PYTHONDONTWRITEBYTECODE=1

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/stop.sh
. "$REPO/tests/lib/stop.sh"
# shellcheck source=../lib/postfix.sh
. "$REPO/tests/lib/postfix.sh"
HELPER=$REPO/tests/bench/compare_helper.py
ROUNDS=${ROUNDS:-3}
QUICK=${QUICK:-0}
RESULTS=${RESULTS:-/tmp/postern-compare.md}
KEEP=${KEEP:-0}
BENCH_USER=${BENCH_USER:-postern-bench}
WORKLOADS=${WORKLOADS:-smtp big relay pop3 imap idle accept}
SKIP_BUILD=${SKIP_BUILD:-0}
RUN_TIMEOUT=${RUN_TIMEOUT:-1800}
if [ "$QUICK" = 1 ]; then
    SMTP_MESSAGES=${SMTP_MESSAGES:-200}
    BIG_MESSAGES=${BIG_MESSAGES:-20}
    RELAY_MESSAGES=${RELAY_MESSAGES:-200}
    POP3_MESSAGES=${POP3_MESSAGES:-500}
    SESSIONS=${SESSIONS:-1 10}
    IMAP_SIZES=${IMAP_SIZES:-1000}
    IMAP_ITERATIONS=${IMAP_ITERATIONS:-3}
    IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-200}
else
    SMTP_MESSAGES=${SMTP_MESSAGES:-5000}
    BIG_MESSAGES=${BIG_MESSAGES:-500}
    RELAY_MESSAGES=${RELAY_MESSAGES:-5000}
    POP3_MESSAGES=${POP3_MESSAGES:-5000}
    SESSIONS=${SESSIONS:-1 10 50}
    IMAP_SIZES=${IMAP_SIZES:-10000 100000}
    IMAP_ITERATIONS=${IMAP_ITERATIONS:-5}
    IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-5000}
fi
RELAY_SESSIONS=${RELAY_SESSIONS:-10}
PASSWORD=pw
USERS="u1 pop imap idle"

WORK=""
PF_STARTED=0
DV_STARTED=0
PN_PID=""
SINK_PID=""
INOTIFY_WAS=""

say() { printf '== %s\n' "$*"; }
die() {
    printf 'SETUP FAILED: %s\n' "$*" >&2
    dump_logs
    exit 2
}
now() { date +%s.%N; }

# --- cleanup ---------------------------------------------------------------------

stop_postern() {
    stop_master "$PN_PID"
    PN_PID=""
}

stop_postfix() {
    [ "$PF_STARTED" = 1 ] || return 0
    postfix_cmd stop
    PF_STARTED=0
    wait_cwd_gone "$PF_DIR/spool"
}

stop_dovecot() {
    [ "$DV_STARTED" = 1 ] || return 0
    doveadm -c "$DV_CONF" stop >/dev/null 2>&1
    DV_STARTED=0
    local i
    for i in $(seq 1 150); do
        [ -e "$DV_DIR/run/master.pid" ] || break
        sleep 0.2
    done
}

cleanup() {
    if [ -n "$INOTIFY_WAS" ]; then
        echo "$INOTIFY_WAS" >/proc/sys/fs/inotify/max_user_instances
    fi
    if [ -n "$SINK_PID" ]; then
        kill "$SINK_PID" 2>/dev/null
        wait "$SINK_PID" 2>/dev/null
    fi
    stop_postern
    stop_postfix
    stop_dovecot
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
    local f
    for f in "${PN_DIR:-/nonexistent}/maillog" "${PN_DIR:-/nonexistent}/master.stderr" \
        "${PF_DIR:-/nonexistent}/maillog" "${DV_DIR:-/nonexistent}/dovecot.log"; do
        if [ -s "$f" ]; then
            echo "--- $f (tail) ---"
            tail -n 30 "$f"
        fi
    done
}

# --- helpers ---------------------------------------------------------------------

# wait_for SECONDS COMMAND...: polls the command every 0.2 s until it succeeds.
wait_for() {
    local seconds=$1; shift
    local deadline=$((SECONDS + seconds))
    while :; do
        "$@" >/dev/null 2>&1 && return 0
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep 0.2
    done
}

# listening PORT: a socket listens on 127.0.0.1:PORT (without connecting to it).
listening() {
    [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
}

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

pf_pid() { tr -d ' \n' <"$PF_DIR/spool/pid/master.pid" 2>/dev/null; }
dv_pid() { tr -d ' \n' <"$DV_DIR/run/master.pid" 2>/dev/null; }

# maildir SIDE USER: the Maildir of USER@bench.test on that side (Dovecot reads
# Postfix's).
maildir() {
    case $1 in
        postern) echo "$PN_MAIL/bench.test/$2" ;;
        *) echo "$PF_MAIL/bench.test/$2" ;;
    esac
}

# discard DIR: moves DIR out of the way into $WORK/trash, removed at exit. Deleting
# thousands of files between runs would slow the next run on both sides: on an ext4
# without a journal (as on some VMs) the inode allocator skips, one by one, inodes
# freed in the last minutes, and that depended on what the previous run left.
discard() {
    if [ -e "$1" ]; then
        mkdir -p "$WORK/trash"
        mv -- "$1" "$(mktemp -d "$WORK/trash/XXXXXX")/"
    fi
}

# empty_maildir DIR: DIR becomes an empty Maildir owned by BENCH_USER.
empty_maildir() {
    discard "$1"
    mkdir -p "$1/new" "$1/cur" "$1/tmp"
    chown -R "$BENCH_USER:" "$(dirname "$1")"
}

# copy_maildir SOURCE DIR: DIR becomes a fresh copy of SOURCE (no index, no cache).
copy_maildir() {
    discard "$2"
    mkdir -p "$(dirname "$2")"
    cp -a -- "$1" "$2"
}

queue_files() {
    case $1 in
        postern) find "$PN_DIR/spool/incoming" "$PN_DIR/spool/active" "$PN_DIR/spool/deferred" \
            -type f 2>/dev/null | wc -l ;;
        *) find "$PF_DIR/spool/incoming" "$PF_DIR/spool/active" "$PF_DIR/spool/deferred" \
            "$PF_DIR/spool/maildrop" -type f 2>/dev/null | wc -l ;;
    esac
}
queue_empty() { [ "$(queue_files "$1")" = 0 ]; }

# clear_queue SIDE: deletes every queued message on that side.
clear_queue() {
    case $1 in
        postern) "$PN_BIN/postern" -c "$PN_ETC" queue delete ALL >/dev/null 2>&1 ;;
        *) postsuper -c "$PF_ETC" -d ALL >/dev/null 2>&1 ;;
    esac
    wait_for 30 queue_empty "$1"
}

# settle SIDE: waits for that side's queue to drain (after a run), then flushes the
# file system so one run's writeback does not land in the next one's time.
settle() {
    wait_for 60 queue_empty "$1" || {
        echo "  note: $1 still has $(queue_files "$1") queued messages; deleting them"
        clear_queue "$1"
    }
    sync
}

server_port() {  # server_port SIDE PROTOCOL
    case $1:$2 in
        postern:smtp) echo "$PN_SMTP" ;;
        postern:pop3) echo "$PN_POP3" ;;
        postern:imap) echo "$PN_IMAP" ;;
        *:smtp) echo "$PF_SMTP" ;;
        *:pop3) echo "$DV_POP3" ;;
        *:imap) echo "$DV_IMAP" ;;
    esac
}
tree_pid() {  # tree_pid SIDE PROTOCOL: the master whose process tree does the work
    case $1:$2 in
        postern:*) echo "$PN_PID" ;;
        *:smtp) pf_pid ;;
        *) dv_pid ;;
    esac
}
other_name() {  # the name of the non-Postern server for PROTOCOL
    case $1 in smtp) echo postfix ;; *) echo dovecot ;; esac
}

# run_tool CASE SIDE ROUND PROTOCOL KIND ARGS...: one run of postern-bench ARGS with
# --tree and --json added; records its JSON (and the tree's CPU time by /proc, in case
# the tool reports none) in $RAW.
# For KIND memory (idle connections) the tree's Pss is sampled meanwhile, and ARGS
# must contain --connections N.
run_tool() {
    local case=$1 side=$2 round=$3 proto=$4 kind=$5; shift 5
    local pid out cpu0 cpu1 t0 t1 rc server sampler="" extra=()
    pid=$(tree_pid "$side" "$proto")
    server=$side
    [ "$side" = postern ] || server=$(other_name "$proto")
    RUN_N=$((RUN_N + 1))
    out=$RUNS/$RUN_N.$server.out
    if [ "$kind" = memory ]; then
        python3 "$HELPER" pss-sample "$pid" "$out.pss" &
        sampler=$!
        extra=(--pss "$out.pss" --connections "$(arg_after --connections "$@")")
    fi
    cpu0=$(python3 "$HELPER" tree-cpu "$pid")
    t0=$(now)
    timeout --kill-after=10 "$((RUN_TIMEOUT + 60))" "$BENCH" "$@" --tree "$pid" --json >"$out" 2>"$out.err" </dev/null
    rc=$?
    t1=$(now)
    cpu1=$(python3 "$HELPER" tree-cpu "$pid")
    if [ -n "$sampler" ]; then
        kill -TERM "$sampler" 2>/dev/null
        wait "$sampler" 2>/dev/null
    fi
    python3 "$HELPER" record "$RAW" "$case" "$server" "$round" "$rc" "$t0" "$t1" "$out" \
        --kind "$kind" --cpu "$(awk "BEGIN {print $cpu1 - $cpu0}")" "${extra[@]}"
    [ "$rc" = 0 ] || { echo "    stderr: $(tail -n 3 "$out.err" | tr '\n' ' ')"; }
}

# arg_after OPTION ARGS...: the word after OPTION in ARGS.
arg_after() {
    local option=$1; shift
    while [ $# -gt 1 ]; do
        [ "$1" = "$option" ] && { echo "$2"; return; }
        shift
    done
}

# --- preconditions ---------------------------------------------------------------

[ "$(id -u)" = 0 ] || { echo "run this as root (it installs and starts private servers)" >&2; exit 2; }
for tool in python3 ss; do
    command -v "$tool" >/dev/null || die "$tool is required"
done

need_install=()
if ! command -v postfix >/dev/null || ! command -v postconf >/dev/null; then
    # "No configuration": the package writes no /etc/postfix/main.cf and starts nothing.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    need_install+=(postfix)
fi
[ -x /usr/lib/dovecot/imap ] || need_install+=(dovecot-core dovecot-imapd)
[ -x /usr/lib/dovecot/pop3 ] || need_install+=(dovecot-core dovecot-pop3d)
if [ "${#need_install[@]}" -gt 0 ]; then
    say "installing ${need_install[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y "${need_install[@]}" >/dev/null 2>&1; then
        apt-get update >/dev/null 2>&1 || die "apt-get update failed"
        apt-get install -y "${need_install[@]}" >/dev/null 2>&1 || die "apt-get install ${need_install[*]} failed"
    fi
fi
PF_VERSION=$(postconf -d -h mail_version 2>/dev/null) || die "postconf does not work"
DV_VERSION=$(dovecot --version 2>/dev/null) || die "dovecot --version does not work"
id postfix >/dev/null 2>&1 || die "the postfix user is missing (broken postfix package?)"

if ! id "$BENCH_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$BENCH_USER" ||
        die "cannot create $BENCH_USER"
fi
[ "$(id -u "$BENCH_USER")" != 0 ] || die "BENCH_USER must not be root"
BENCH_UID=$(id -u "$BENCH_USER")
BENCH_GID=$(id -g "$BENCH_USER")

# Idle connections need a descriptor each in the client and in the server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((IDLE_CONNECTIONS + 500)) ]; then
    echo "note: ulimit -n is $(ulimit -n), below IDLE_CONNECTIONS + 500; the idle runs may fail"
fi

# --- build -----------------------------------------------------------------------

PROGRAMS="master smtpd qmgr local smtp pop3d imapd postern"
if [ "$SKIP_BUILD" != 1 ]; then
    say "building Postern (release)"
    (cd "$REPO" && cargo build --release --workspace --bins) >"/tmp/postern-compare-build.log" 2>&1 ||
        die "cargo build --release --workspace --bins failed: see /tmp/postern-compare-build.log"
    if [ ! -x "$REPO/target/release/postern-bench" ] && [ -d "$REPO/crates/mailbench" ]; then
        (cd "$REPO" && cargo build --release -p postern-mailbench) >>"/tmp/postern-compare-build.log" 2>&1 ||
            echo "note: cargo build --release -p postern-mailbench failed: see /tmp/postern-compare-build.log"
    fi
fi
for program in $PROGRAMS; do
    [ -x "$REPO/target/release/$program" ] || die "target/release/$program missing"
done

# --- layout ----------------------------------------------------------------------

WORK=$(mktemp -d /tmp/pcmp.XXXXXX) || die "mktemp"
chmod 755 "$WORK"
# A private copy of the programs, so that a build running meanwhile changes nothing.
PN_BIN=$WORK/bin
mkdir -p "$PN_BIN"
for program in $PROGRAMS postern-bench; do
    [ -x "$REPO/target/release/$program" ] && cp -- "$REPO/target/release/$program" "$PN_BIN/"
done
BENCH=${BENCH_TOOL:-$PN_BIN/postern-bench}

read -r PF_SMTP PN_SMTP PN_POP3 PN_IMAP DV_POP3 DV_IMAP SINK_PORT <<<"$(free_ports 7)"
[ -n "$SINK_PORT" ] || die "no free ports"

PF_DIR=$WORK/postfix
PF_ETC=$PF_DIR/etc
PF_MAIL=$WORK/vmail           # Postfix delivers here, Dovecot reads here
DV_DIR=$WORK/dovecot
DV_CONF=$DV_DIR/dovecot.conf
PN_DIR=$WORK/postern
PN_ETC=$PN_DIR/etc
PN_MAIL=$PN_DIR/mail
SRC=$WORK/source              # Maildirs written once, copied to both sides
RUNS=$WORK/runs
RAW=${RESULTS%.md}.jsonl
RUN_N=0
mkdir -p "$PF_ETC" "$PF_DIR/spool" "$PF_DIR/data" "$PF_MAIL/bench.test" "$DV_DIR/run" \
    "$DV_DIR/state" "$PN_ETC" "$PN_MAIL/bench.test" "$SRC" "$RUNS"
chown postfix: "$PF_DIR/data"
chown -R "$BENCH_USER:" "$PF_MAIL" "$PN_MAIL"
: >"$RAW"

say "Postfix $PF_VERSION smtpd 127.0.0.1:$PF_SMTP; Dovecot $DV_VERSION imap $DV_IMAP pop3 $DV_POP3"
say "Postern smtpd $PN_SMTP imapd $PN_IMAP pop3d $PN_POP3; relay sink $SINK_PORT"
say "work directory $WORK"

# --- the private Postfix ---------------------------------------------------------

: >"$PF_ETC/vmailbox"
for u in $USERS; do
    printf '%s@bench.test\tbench.test/%s/\n' "$u" "$u" >>"$PF_ETC/vmailbox"
done

cat >"$PF_ETC/main.cf" <<EOF
# Private Postfix for tests/bench/compare.sh. Durability is Postfix's default: queue
# files and Maildir files are fsynced before the 250 and before delivery is logged.
compatibility_level = 3.6
queue_directory = $PF_DIR/spool
data_directory = $PF_DIR/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $PF_DIR/maillog
maillog_file_prefixes = $WORK

myhostname = mx.postfix.bench
mydomain = postfix.bench
mydestination = localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no

virtual_mailbox_domains = bench.test
virtual_mailbox_maps = texthash:\$config_directory/vmailbox
virtual_mailbox_base = $PF_MAIL
virtual_minimum_uid = 1
virtual_uid_maps = static:$BENCH_UID
virtual_gid_maps = static:$BENCH_GID

relayhost = [127.0.0.1]:$SINK_PORT
smtp_tls_security_level = may
EOF

postfix_master_cf "127.0.0.1:$PF_SMTP" >"$PF_ETC/master.cf"

start_postfix() {
    postfix_cmd check || die "postfix check: $(cat "$PF_DIR/postfix.out")"
    postfix_cmd start || die "postfix start: $(cat "$PF_DIR/postfix.out")"
    PF_STARTED=1
    wait_for 30 port_open "$PF_SMTP" || die "Postfix does not listen on 127.0.0.1:$PF_SMTP"
}

# --- the private Dovecot ---------------------------------------------------------

: >"$DV_DIR/users"
for u in $USERS; do
    printf '%s@bench.test:{PLAIN}%s:%s:%s::%s::\n' "$u" "$PASSWORD" "$BENCH_UID" "$BENCH_GID" \
        "$PF_MAIL/bench.test/$u" >>"$DV_DIR/users"
done
DV_LIMIT=$((IDLE_CONNECTIONS + 200))
cat >"$DV_CONF" <<EOF
# Private Dovecot for tests/bench/compare.sh, on the Maildirs Postfix delivers into.
base_dir = $DV_DIR/run
state_dir = $DV_DIR/state
protocols = imap pop3
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = $DV_DIR/dovecot.log
listen = 127.0.0.1
first_valid_uid = 1
mail_location = maildir:~
# Dovecot's default, stated: fsync where it matters.
mail_fsync = optimized
pop3_uidl_format = %08Xu%08Xv

# Room for IDLE_CONNECTIONS logged-in connections from one address and user.
default_process_limit = $DV_LIMIT
default_client_limit = $((4 * DV_LIMIT))
protocol imap {
  mail_max_userip_connections = $DV_LIMIT
}
protocol pop3 {
  mail_max_userip_connections = $DV_LIMIT
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DV_IMAP
  }
  inet_listener imaps {
    port = 0
  }
  process_limit = $DV_LIMIT
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $DV_POP3
  }
  inet_listener pop3s {
    port = 0
  }
}
service imap {
  process_limit = $DV_LIMIT
}
passdb {
  driver = passwd-file
  args = $DV_DIR/users
}
userdb {
  driver = passwd-file
  args = $DV_DIR/users
}
EOF

start_dovecot() {
    dovecot -c "$DV_CONF" </dev/null >"$DV_DIR/start.out" 2>&1 || die "dovecot: $(cat "$DV_DIR/start.out")"
    DV_STARTED=1
    wait_for 30 port_open "$DV_IMAP" || die "Dovecot does not listen on 127.0.0.1:$DV_IMAP"
    wait_for 30 port_open "$DV_POP3" || die "Dovecot does not listen on 127.0.0.1:$DV_POP3"
}

# --- the Postern instance --------------------------------------------------------

cat >"$PN_ETC/main.cf" <<EOF
# Postern for tests/bench/compare.sh.
queue_directory = $PN_DIR/spool
maillog_file = $PN_DIR/maillog
daemon_directory = $PN_BIN
mail_owner = $BENCH_USER
myhostname = mx.postern.bench
mydestination = localhost
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
service_throttle_time = 2s

virtual_mailbox_domains = bench.test
virtual_user_maps = passwd-file:\$config_directory/users
virtual_mailbox_base = $PN_MAIL
alias_maps =
# Postfix's virtual(8) limits one Maildir file (virtual_mailbox_limit), not the whole
# Maildir; Postern's mailbox_size_limit (50 MB) would stop the 1 MB runs half way.
mailbox_size_limit = 0

relayhost = [127.0.0.1]:$SINK_PORT
smtp_tls_security_level = may
EOF

: >"$PN_ETC/users"
for u in $USERS; do
    printf '%s@bench.test:{PLAIN}%s\n' "$u" "$PASSWORD" >>"$PN_ETC/users"
done
chgrp "$BENCH_USER" "$PN_ETC/users"
chmod 640 "$PN_ETC/users"

# write_postern_master MODE: master.cf for "deliver" or "accept" (no local: mail stays
# queued).
write_postern_master() {
    {
        echo "127.0.0.1:$PN_SMTP inet n - n - - smtpd"
        echo "127.0.0.1:$PN_POP3 inet n - n - - pop3d"
        echo "127.0.0.1:$PN_IMAP inet n - n - - imapd"
        echo "qmgr   unix - - n - 1 qmgr"
        [ "$1" = accept ] || echo "local  unix - - n - - local"
        echo "smtp   unix - - n - - smtp"
    } >"$PN_ETC/master.cf"
}
write_postern_master deliver

start_postern() {
    "$PN_BIN/master" -c "$PN_ETC" </dev/null >"$PN_DIR/master.stdout" 2>"$PN_DIR/master.stderr" &
    PN_PID=$!
    wait_for 30 port_open "$PN_SMTP" || die "Postern does not listen on 127.0.0.1:$PN_SMTP"
    wait_for 30 "$PN_BIN/postern" -c "$PN_ETC" status || die "postern status fails"
}

MODE=deliver
# set_mode deliver|accept: "accept" holds delivery on both sides (see the header).
set_mode() {
    [ "$MODE" = "$1" ] && return 0
    MODE=$1
    clear_queue postfix
    clear_queue postern
    if [ "$1" = accept ]; then
        postconf -c "$PF_ETC" -e "defer_transports = virtual" || die "postconf -e"
    else
        postconf -c "$PF_ETC" -X defer_transports || die "postconf -X"
    fi
    postfix_cmd reload || die "postfix reload: $(cat "$PF_DIR/postfix.out")"
    stop_postern
    write_postern_master "$1"
    start_postern
    sleep 1
}

say "starting Postfix, Dovecot and Postern"
start_postfix
start_dovecot
start_postern

# --- smoke test: every path once -------------------------------------------------

say "smoke test"
for u in $USERS; do
    empty_maildir "$(maildir postfix "$u")"
    empty_maildir "$(maildir postern "$u")"
done
for side in postfix postern; do
    port=$(server_port "$side" smtp)
    python3 "$HELPER" smoke-smtp "$port" u1@bench.test "$(maildir "$side" u1)" ||
        die "$side: SMTP to u1@bench.test did not reach $(maildir "$side" u1)"
    [ "$(python3 "$HELPER" smoke-pop3 "$(server_port "$side" pop3)" u1@bench.test "$PASSWORD")" = 1 ] ||
        die "$side: POP3 does not show the message"
    [ "$(python3 "$HELPER" smoke-imap "$(server_port "$side" imap)" u1@bench.test "$PASSWORD")" = 1 ] ||
        die "$side: IMAP does not show the message"
    python3 "$HELPER" smoke-relay "$SINK_PORT" "$port" someone@remote.example ||
        die "$side: relaying to the sink on 127.0.0.1:$SINK_PORT failed"
    echo "  $side: SMTP into the Maildir, POP3, IMAP and relay work"
done
for u in $USERS; do
    empty_maildir "$(maildir postfix "$u")"
    empty_maildir "$(maildir postern "$u")"
done
settle postfix
settle postern

if [ ! -x "$BENCH" ]; then
    echo "the load tool target/release/postern-bench is missing (crate crates/mailbench);"
    echo "the servers were set up and answered the smoke test, nothing was measured"
    exit 2
fi

# --- workloads -------------------------------------------------------------------

has_workload() { [[ " $WORKLOADS " == *" $1 "* ]]; }

# smtp_case NAME MESSAGES SIZE SESSIONS: SMTP to u1@bench.test, ROUNDS x (Postfix,
# Postern). In deliver mode the clock stops when all are in the Maildir.
smtp_case() {
    local name=$1 messages=$2 size=$3 sessions=$4 round side box
    say "$name"
    for round in $(seq 1 "$ROUNDS"); do
        for side in postfix postern; do
            box=$(maildir "$side" u1)
            empty_maildir "$box"
            settle "$side"
            if [ "$MODE" = accept ]; then
                run_tool "$name" "$side" "$round" smtp rate smtp --server "127.0.0.1:$(server_port "$side" smtp)" \
                    --sessions "$sessions" --messages "$messages" --size "$size" --to u1@bench.test
                clear_queue "$side"
            else
                run_tool "$name" "$side" "$round" smtp rate smtp --server "127.0.0.1:$(server_port "$side" smtp)" \
                    --sessions "$sessions" --messages "$messages" --size "$size" --to u1@bench.test \
                    --wait-maildir "$box" --expect "$messages" --wait-timeout "${RUN_TIMEOUT}s"
            fi
        done
    done
    empty_maildir "$(maildir postfix u1)"
    empty_maildir "$(maildir postern u1)"
}

kb() { [ "$1" -ge 1048576 ] && echo "$(($1 / 1048576)) MB" || echo "$(($1 / 1024)) KB"; }
plural() { [ "$1" = 1 ] && echo "1 session" || echo "$1 sessions"; }

if has_workload smtp; then
    for s in $SESSIONS; do
        smtp_case "SMTP to Maildir, $SMTP_MESSAGES x 2 KB, $(plural "$s")" "$SMTP_MESSAGES" 2048 "$s"
    done
fi
if has_workload big; then
    for s in $SESSIONS; do
        smtp_case "SMTP to Maildir, $BIG_MESSAGES x 1 MB, $(plural "$s")" "$BIG_MESSAGES" 1048576 "$s"
    done
fi

if has_workload relay; then
    name="Relay to a sink, $RELAY_MESSAGES x 2 KB, $(plural "$RELAY_SESSIONS")"
    say "$name"
    for round in $(seq 1 "$ROUNDS"); do
        for side in postfix postern; do
            settle "$side"
            RUN_N=$((RUN_N + 1))
            sink_out=$RUNS/$RUN_N.sink.out
            timeout --kill-after=10 "$((RUN_TIMEOUT + 60))" "$BENCH" sink --listen "127.0.0.1:$SINK_PORT" \
                --count "$RELAY_MESSAGES" --json >"$sink_out" 2>"$sink_out.err" </dev/null &
            SINK_PID=$!
            wait_for 10 listening "$SINK_PORT" || echo "  note: the sink does not listen"
            pid=$(tree_pid "$side" smtp)
            server=$side
            [ "$side" = postern ] || server=postfix
            out=$RUNS/$RUN_N.$server.out
            cpu0=$(python3 "$HELPER" tree-cpu "$pid")
            t0=$(now)
            timeout --kill-after=10 "$((RUN_TIMEOUT + 60))" "$BENCH" smtp --server "127.0.0.1:$(server_port "$side" smtp)" \
                --sessions "$RELAY_SESSIONS" --messages "$RELAY_MESSAGES" --size 2048 \
                --to bench@remote.example --tree "$pid" --json >"$out" 2>"$out.err" </dev/null
            rc=$?
            wait "$SINK_PID"
            sink_rc=$?
            SINK_PID=""
            t1=$(now)
            cpu1=$(python3 "$HELPER" tree-cpu "$pid")
            python3 "$HELPER" record "$RAW" "$name" "$server" "$round" "$rc" "$t0" "$t1" "$out" \
                --kind rate --cpu "$(awk "BEGIN {print $cpu1 - $cpu0}")" --sink "$sink_out" --sink-rc "$sink_rc"
        done
    done
fi

if has_workload pop3; then
    say "POP3: writing $POP3_MESSAGES messages of 2 KB"
    python3 "$HELPER" fill-pop3 "$SRC/pop" "$POP3_MESSAGES" 2048 "$BENCH_USER" || die "fill-pop3"
    cold="POP3 RETR, $POP3_MESSAGES x 2 KB, first login"
    warm="POP3 RETR, $POP3_MESSAGES x 2 KB, warm"
    say "$cold / warm"
    for round in $(seq 1 "$ROUNDS"); do
        for side in postfix postern; do
            box=$(maildir "$side" pop)
            copy_maildir "$SRC/pop" "$box"
            sync
            for phase in cold warm; do
                [ "$phase" = cold ] && name=$cold || name=$warm
                run_tool "$name" "$side" "$round" pop3 rate pop3 --server "127.0.0.1:$(server_port "$side" pop3)" \
                    --user pop@bench.test --pass "$PASSWORD"
                left=$(python3 "$HELPER" count "$box")
                [ "$left" = "$POP3_MESSAGES" ] || { echo "  note: $left messages left in $box"; copy_maildir "$SRC/pop" "$box"; }
            done
        done
    done
    for dir in "$SRC/pop" "$(maildir postfix pop)" "$(maildir postern pop)"; do discard "$dir"; done
fi

if has_workload imap; then
    for size in $IMAP_SIZES; do
        label="$((size / 1000))k"
        say "IMAP: writing a folder of $size messages"
        python3 "$HELPER" fill-imap "$SRC/imap" "$size" "$BENCH_USER" || die "fill-imap"
        for side in postfix postern; do
            copy_maildir "$SRC/imap" "$(maildir "$side" imap)"
        done
        sync
        say "IMAP $label: first SELECT and ENVELOPE on the fresh copies (each server indexes once)"
        for side in postfix postern; do
            run_tool "IMAP first LOGIN+SELECT, $label folder (indexing)" "$side" 1 imap rate imap \
                --server "127.0.0.1:$(server_port "$side" imap)" --user imap@bench.test --pass "$PASSWORD" \
                --workload select --iterations 1
            run_tool "IMAP first FETCH 1:* (ENVELOPE), $label folder (cache fill)" "$side" 1 imap rate imap \
                --server "127.0.0.1:$(server_port "$side" imap)" --user imap@bench.test --pass "$PASSWORD" \
                --workload envelope --iterations 1
        done
        for workload in select fetch-flags envelope search; do
            case $workload in
                select) name="IMAP LOGIN+SELECT+LOGOUT, $label folder" ;;
                fetch-flags) name="IMAP FETCH 1:* (FLAGS), $label folder" ;;
                envelope) name="IMAP FETCH 1:* (ENVELOPE), $label folder" ;;
                search) name="IMAP UID SEARCH SUBJECT / UNSEEN, $label folder" ;;
            esac
            say "$name"
            for round in $(seq 1 "$ROUNDS"); do
                for side in postfix postern; do
                    # search: UID SEARCH SUBJECT with a word in 1% of the subjects
                    # (tests/bench/imap_bench.py writes the folder), and UID SEARCH UNSEEN.
                    run_tool "$name" "$side" "$round" imap rate imap \
                        --server "127.0.0.1:$(server_port "$side" imap)" --user imap@bench.test --pass "$PASSWORD" \
                        --workload "$workload" --iterations "$IMAP_ITERATIONS" --subject zeppelin
                done
            done
        done
        for dir in "$SRC/imap" "$(maildir postfix imap)" "$(maildir postern imap)"; do discard "$dir"; done
    done
fi

if has_workload idle; then
    # Both servers watch an idling folder with inotify, one instance per session, and
    # both run as BENCH_USER: the kernel's per-user limit (128 by default) would make
    # them fall back to polling. Raised for the run, put back on exit.
    INOTIFY=/proc/sys/fs/inotify/max_user_instances
    if [ -w "$INOTIFY" ] && [ "$(cat "$INOTIFY")" -lt $((2 * IDLE_CONNECTIONS + 1000)) ]; then
        INOTIFY_WAS=$(cat "$INOTIFY")
        echo $((2 * IDLE_CONNECTIONS + 1000)) >"$INOTIFY" || INOTIFY_WAS=""
    fi
    python3 "$HELPER" fill-imap "$SRC/idle" 100 "$BENCH_USER" || die "fill-imap"
    for side in postfix postern; do
        copy_maildir "$SRC/idle" "$(maildir "$side" idle)"
    done
    name="IMAP idle, $IDLE_CONNECTIONS connections"
    say "$name"
    for round in $(seq 1 "$ROUNDS"); do
        for side in postfix postern; do
            run_tool "$name" "$side" "$round" imap memory imap \
                --server "127.0.0.1:$(server_port "$side" imap)" --user idle@bench.test --pass "$PASSWORD" \
                --workload idle --connections "$IDLE_CONNECTIONS"
            # Let the server's per-connection processes or tasks go away.
            sleep 2
        done
    done
fi

if has_workload accept; then
    set_mode accept
    for s in $SESSIONS; do
        smtp_case "SMTP acceptance only, $SMTP_MESSAGES x 2 KB, $(plural "$s")" "$SMTP_MESSAGES" 2048 "$s"
    done
    set_mode deliver
fi

# --- the table -------------------------------------------------------------------

say "results"
KERNEL=$(uname -r)
CPUS=$(nproc)
MEM=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
FS=$(df -T "$WORK" | awk 'NR == 2 {print $2}')
python3 "$HELPER" report "$RAW" "$RESULTS" \
    "title=Postern against Postfix $PF_VERSION + Dovecot $DV_VERSION" \
    "machine=$CPUS CPUs, $MEM RAM, Linux $KERNEL, $FS under $WORK" \
    "rounds=$ROUNDS$([ "$QUICK" = 1 ] && echo ' (QUICK=1: small sizes)')" \
    "load tool=postern-bench (crates/mailbench), every run's JSON in $RAW"
status=$?
echo "table written to $RESULTS"
exit "$status"
