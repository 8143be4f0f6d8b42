# Stopping the servers that tests/interop/ and tests/bench/ scripts start.
# Sourced, not run.

# stop_master PID: SIGTERM Postern's master, wait up to 30 s for it, then SIGKILL
# its process group (master leads its own group) so no daemon is left behind.
stop_master() {
    local pid=$1 i
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for i in $(seq 1 150); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
        fi
    fi
    wait "$pid" 2>/dev/null
    return 0
}

# wait_cwd_gone DIR: wait up to 10 s until no process works in DIR. `postfix stop`
# returns once Postfix's master is gone; its daemons (which chdir to the queue
# directory) may take a moment longer, and the directory must not be removed
# under them.
wait_cwd_gone() {
    local dir=$1 i cwd busy
    for i in $(seq 1 50); do
        busy=0
        for cwd in /proc/[0-9]*/cwd; do
            [ "$(readlink "$cwd" 2>/dev/null)" = "$dir" ] && { busy=1; break; }
        done
        [ "$busy" = 0 ] && break
        sleep 0.2
    done
    return 0
}
