# A private Postfix instance for tests/interop/ and tests/bench/ scripts. Sourced.

# postfix_master_cf LISTEN: the master.cf of a private instance: smtpd on LISTEN
# (`127.0.0.1:PORT`) and the services delivery needs, none chrooted, logging
# through postlogd to maillog_file so no syslog is needed.
postfix_master_cf() {
    cat <<EOF2
$1 inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF2
}

# postfix_cmd ARGS...: `postfix -c $PF_ETC ARGS...` with its messages in
# $PF_DIR/postfix.out (Postfix prints to standard error only when it is a terminal:
# script(1) gives it one). The caller sets PF_ETC and PF_DIR.
postfix_cmd() {
    local cmd
    cmd=$(printf '%q ' postfix -c "$PF_ETC" "$@")
    if command -v script >/dev/null; then
        script -qec "$cmd" /dev/null >"$PF_DIR/postfix.out" 2>&1 </dev/null
    else
        postfix -c "$PF_ETC" "$@" >"$PF_DIR/postfix.out" 2>&1 </dev/null
    fi
}

# port_open PORT: true when something accepts connections on 127.0.0.1:PORT.
port_open() {
    python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1"
}
