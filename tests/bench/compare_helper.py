#!/usr/bin/env python3
"""Helpers for tests/bench/compare.sh (not a test): filling Maildirs, checking that a
freshly configured server answers, measuring a process tree's CPU time, recording the
load tool's JSON results and printing the final Markdown table.

    compare_helper.py fill-pop3 DIR COUNT SIZE OWNER
    compare_helper.py fill-imap DIR COUNT OWNER
    compare_helper.py count DIR                      messages in DIR/new and DIR/cur
    compare_helper.py tree-cpu PID                   CPU seconds of PID and its descendants
    compare_helper.py smoke-smtp PORT RCPT MAILDIR   one message in, wait for it in MAILDIR
    compare_helper.py smoke-pop3 PORT USER PASS      prints the STAT count
    compare_helper.py smoke-imap PORT USER PASS      prints the EXISTS count of INBOX
    compare_helper.py smoke-relay SINKPORT PORT RCPT one message for a remote RCPT into the
                                                     server on PORT; waits until a little
                                                     SMTP sink on SINKPORT has it
    compare_helper.py pss-sample PID OUT             until SIGTERM: samples the summed Pss of
                                                     PID's tree; then writes base and peak (KiB)
    compare_helper.py record RAW CASE SERVER ROUND RC T0 T1 OUT [--kind rate|memory]
                             [--cpu S] [--sink SINKOUT --sink-rc RC] [--pss PSSOUT --connections N]
    compare_helper.py report RAW OUT [key=value...]

RAW is a file of JSON lines, one per run, that `record` appends to and `report` reads.
"""

import json
import os
import poplib
import smtplib
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

def owner_ids(owner):
    import pwd
    p = pwd.getpwnam(owner)
    return p.pw_uid, p.pw_gid


def fill_pop3(path, count, size, owner):
    from pop3_retrieve import write_maildir
    uid, gid = owner_ids(owner)
    write_maildir(path, count, size, uid, gid)
    os.chown(path, uid, gid)


def fill_imap(path, count, owner):
    from imap_bench import write_maildir
    uid, gid = owner_ids(owner)
    write_maildir(path, count, uid, gid)
    os.chown(path, uid, gid)


def count_maildir(path):
    n = 0
    for sub in ("new", "cur"):
        try:
            n += sum(1 for e in os.scandir(os.path.join(path, sub)) if e.is_file())
        except FileNotFoundError:
            pass
    return n


def tree_pids(root):
    """ROOT and its live descendants."""
    parent = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        parent[int(name)] = int(stat[stat.rfind(")") + 2:].split()[1])
    children = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def tree_pss_kib(root):
    """The summed proportional set size of ROOT's tree: shared pages are divided among
    the processes that map them, so a multi-process server is not counted once per
    process for its libraries."""
    total = 0
    for pid in tree_pids(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def pss_sample(root, out):
    import signal
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    base = tree_pss_kib(root)
    peak = base
    while not stop:
        peak = max(peak, tree_pss_kib(root))
        time.sleep(0.3)
    with open(out, "w") as f:
        json.dump({"base_kib": base, "peak_kib": peak}, f)


def tree_cpu(root):
    """utime+stime+cutime+cstime of ROOT and every live descendant, in seconds.
    Children that exited and were reaped are in their parent's cutime/cstime."""
    ticks = os.sysconf("SC_CLK_TCK")
    parent = {}
    times = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        pid = int(name)
        parent[pid] = int(fields[1])
        times[pid] = sum(int(x) for x in fields[11:15])
    children = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    total = 0
    todo = [root]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total / ticks


def smoke_smtp(port, rcpt, maildir, timeout=60):
    before = count_maildir(maildir)
    msg = (f"From: smoke@remote.example\r\nTo: {rcpt}\r\nSubject: compare.sh smoke test\r\n"
           f"Message-ID: <smoke.{time.time()}@remote.example>\r\n\r\nhello\r\n")
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example", timeout=30) as s:
        refused = s.sendmail("smoke@remote.example", [rcpt], msg.encode())
        if refused:
            raise SystemExit(f"refused: {refused!r}")
    end = time.time() + timeout
    while time.time() < end:
        if count_maildir(maildir) > before:
            return
        time.sleep(0.1)
    raise SystemExit(f"the message for {rcpt} did not arrive in {maildir} within {timeout}s")


def smoke_pop3(port, user, password):
    p = poplib.POP3("127.0.0.1", port, timeout=60)
    p.user(user)
    p.pass_(password)
    count, _ = p.stat()
    p.quit()
    print(count)


def smoke_imap(port, user, password):
    import imaplib
    m = imaplib.IMAP4("127.0.0.1", port, timeout=600)
    m.login(user, password)
    typ, data = m.select("INBOX", readonly=True)
    if typ != "OK":
        raise SystemExit(f"SELECT: {typ} {data!r}")
    m.logout()
    print(int(data[0]))


def smoke_relay(sink_port, port, rcpt, timeout=60):
    """A minimal SMTP sink on 127.0.0.1:SINK_PORT that takes messages until one for
    RCPT has arrived; meanwhile one message for RCPT goes into the server on PORT."""
    import socket
    import threading
    got = threading.Event()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", sink_port))
    srv.listen(16)
    srv.settimeout(0.5)

    def session(conn):
        f = conn.makefile("rb")
        conn.sendall(b"220 sink.example ESMTP\r\n")
        rcpts = []
        while True:
            line = f.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(b"250-sink.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            elif verb == b"RCPT":
                rcpts.append(line.decode(errors="replace"))
                conn.sendall(b"250 2.1.5 Ok\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go ahead\r\n")
                while f.readline() not in (b".\r\n", b""):
                    pass
                conn.sendall(b"250 2.0.0 Ok: queued\r\n")
                if any(rcpt in r for r in rcpts):
                    got.set()
                rcpts = []
            elif verb == b"QUIT":
                conn.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                conn.sendall(b"250 2.0.0 Ok\r\n")

    def serve():
        while not got.is_set():
            try:
                conn, _ = srv.accept()
            except socket.timeout:
                continue
            threading.Thread(target=lambda c=conn: (session(c), c.close()), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    msg = (f"From: smoke@bench.test\r\nTo: {rcpt}\r\nSubject: compare.sh relay smoke test\r\n"
           f"Message-ID: <relay.{time.time()}@bench.test>\r\n\r\nhello\r\n")
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example", timeout=30) as s:
        refused = s.sendmail("smoke@bench.test", [rcpt], msg.encode())
        if refused:
            raise SystemExit(f"refused: {refused!r}")
    ok = got.wait(timeout)
    srv.close()
    if not ok:
        raise SystemExit(f"the message for {rcpt} did not reach the sink within {timeout}s")


def last_json(path):
    """The last line of PATH that parses as a JSON object, or None."""
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return None


def num(d, key):
    v = d.get(key) if d else None
    return float(v) if isinstance(v, (int, float)) else None


def record(args):
    raw, case, server, rnd, rc, t0, t1, out = args[:8]
    rest = args[8:]
    opts = {}
    while rest:
        opts[rest[0].lstrip("-")] = rest[1]
        rest = rest[2:]
    result = last_json(out)
    wall = float(t1) - float(t0)
    rec = {"case": case, "kind": opts.get("kind", "rate"), "server": server, "round": int(rnd),
           "rc": int(rc), "wall": wall, "result": result}
    if "cpu" in opts:
        rec["tree_cpu"] = float(opts["cpu"])
    if "sink" in opts:
        # Outbound relay: the client's JSON gives the acceptance side (p99 of the
        # transactions, RSS); the sink's gives the end of the clock (see metrics).
        sink = last_json(opts["sink"])
        rec["sink"] = sink
        rec["sink_rc"] = int(opts.get("sink-rc", "0"))
    if "pss" in opts:
        # Idle connections: the growth of the tree's Pss over the run, per connection.
        try:
            with open(opts["pss"]) as f:
                pss = json.load(f)
            rec["pss_per_conn"] = (pss["peak_kib"] - pss["base_kib"]) / int(opts["connections"])
        except (OSError, ValueError, KeyError, ZeroDivisionError):
            rec["pss_per_conn"] = None
    with open(raw, "a") as f:
        f.write(json.dumps(rec) + "\n")
    m = metrics(rec)
    status = "ok" if not m["failed"] else f"FAILED (rc {rc}, errors {m['errors']})"
    parts = [f"{case} {server} round {rnd}: {status}"]
    if m["rate"] is not None:
        parts.append(f"{m['rate']:.1f}/s")
    if m["p99"] is not None:
        parts.append(f"p99 {m['p99']:.1f} ms")
    if m["cpu_per_op"] is not None:
        parts.append(f"cpu {m['cpu_per_op'] * 1000:.3f} ms/op")
    if m["rss"] is not None:
        parts.append(f"rss {m['rss']:.0f} MiB")
    if m["per_conn"] is not None:
        parts.append(f"{m['per_conn']:.0f} KiB/conn (RSS)")
    if m["pss_conn"] is not None:
        parts.append(f"{m['pss_conn']:.0f} KiB/conn (PSS)")
    print("  " + ", ".join(parts), flush=True)


def metrics(rec):
    """The numbers the table uses, from one run's record."""
    r = rec.get("result") or {}
    ops = num(r, "operations")
    errors = int(num(r, "errors") or 0)
    failed = rec["rc"] != 0 or not rec.get("result") or errors > 0
    rate = num(r, "rate")
    cpu = num(r, "cpu_seconds")
    if "sink" in rec:
        sink = rec.get("sink") or {}
        errors += int(num(sink, "errors") or 0)
        got = num(sink, "operations")
        failed = failed or rec.get("sink_rc", 0) != 0 or not rec.get("sink") or \
            (ops is not None and got is not None and got < ops)
        # The sink's clock runs from its first connection to its last counted message
        # (it then lingers for the clients' QUIT, so the wall time would be too long);
        # the client's from its first connection to its last 250. The relay is done
        # when both are, and both start within milliseconds of each other.
        seconds = max(num(sink, "seconds") or 0, num(r, "seconds") or 0)
        rate = (got / seconds) if got and seconds > 0 else None
        cpu = rec.get("tree_cpu")
    if rec.get("tree_cpu") is not None:
        # compare.sh's own reading (utime+stime+cutime+cstime of the tree, before and
        # after): unlike sampling, it includes processes that start and exit between
        # samples (Postfix's and Dovecot's short-lived ones), as their parent reaped them.
        cpu = rec["tree_cpu"]
    return {
        "failed": failed,
        "errors": errors,
        "rate": rate,
        "p50": num(r, "p50_ms"),
        "p99": num(r, "p99_ms"),
        "cpu_per_op": (cpu / ops) if cpu is not None and ops else None,
        "rss": num(r, "peak_rss_mib"),
        "per_conn": num(r, "per_connection_kib"),
        "pss_conn": rec.get("pss_per_conn"),
    }


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=1):
    if v is None:
        return "–"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def report(raw, out, meta):
    records = []
    try:
        with open(raw) as f:
            records = [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        pass
    cases = []
    for rec in records:
        if rec["case"] not in cases:
            cases.append(rec["case"])
    rows = []
    failures = []
    for case in cases:
        kind = next(r.get("kind", "rate") for r in records if r["case"] == case)
        by = {}
        for server in ("other", "postern"):
            runs = [r for r in records if r["case"] == case and
                    (r["server"] == "postern") == (server == "postern")]
            ms = [metrics(r) for r in runs]
            for r, m in zip(runs, ms):
                if m["failed"]:
                    failures.append(f"{case}, {r['server']}, round {r['round']}: exit {r['rc']}, "
                                    f"errors {m['errors']}" +
                                    ("" if r.get("result") else ", no JSON result"))
            good = [m for m in ms if not m["failed"]]
            by[server] = {
                "n": len(ms),
                "good": len(good),
                "errors": sum(m["errors"] for m in ms) + sum(1 for m in ms if m["failed"] and not m["errors"]),
                **{k: med([m[k] for m in good]) for k in
                   ("rate", "p50", "p99", "cpu_per_op", "rss", "per_conn", "pss_conn")},
            }
        rows.append((case, kind, by))

    lines = []
    title = meta.pop("title", "Postern against Postfix + Dovecot")
    lines.append(f"## {title}")
    lines.append("")
    for k, v in meta.items():
        lines.append(f"- {k}: {v}")
    lines.append("")
    lines.append("Medians over the rounds (A B A B ...). Rates are operations per second "
                 "(messages, or IMAP commands); **Postern vs other** is Postern's rate divided "
                 "by Postfix's/Dovecot's (\"2.0x faster\": Postern did twice as many per "
                 "second), and for idle connections the other's memory per connection "
                 "divided by Postern's (\"2.0x less memory\"). CPU is that of the "
                 "server's whole process tree (master, every daemon, and processes that "
                 "exited during the run) per message or command, from /proc before and "
                 "after the run; peak RSS is the largest sum of VmRSS over the tree during "
                 "the run (shared pages count once per process, which inflates "
                 "multi-process servers; the PSS row of idle connections divides them "
                 "fairly). Cells with a slash read Postfix/Dovecot / Postern.")
    lines.append("")
    lines.append("| workload | Postfix/Dovecot | Postern | Postern vs other | p99 ms | "
                 "CPU ms/op | peak RSS MiB | failed runs |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for case, kind, by in rows:
        o, p = by["other"], by["postern"]
        failed = f"{o['n'] - o['good']}/{o['n']} / {p['n'] - p['good']}/{p['n']}"
        if kind == "memory":
            # Two rows: the load tool's VmRSS growth, and compare.sh's Pss growth.
            for label, key in (("RSS", "per_conn"), ("PSS", "pss_conn")):
                ov, pv = o[key], p[key]
                if ov is None and pv is None and label == "PSS":
                    continue
                if ov and pv and ov > 0 and pv > 0:
                    ratio = ov / pv
                    cmp = f"{ratio:.2f}x less memory" if ratio >= 1 else f"{1 / ratio:.2f}x more memory"
                else:
                    cmp = "–"
                cells = [fmt(v) + " KiB/conn" if v is not None else "–" for v in (ov, pv)]
                rss = f"{fmt(o['rss'], 0)} / {fmt(p['rss'], 0)}" if label == "RSS" else "–"
                lines.append(f"| {case}, {label} per connection | {cells[0]} | {cells[1]} | {cmp} "
                             f"| – | – | {rss} | {failed} |")
            continue
        ov, pv = o["rate"], p["rate"]
        if ov and pv:
            ratio = pv / ov
            cmp = f"{ratio:.2f}x faster" if ratio >= 1 else f"{1 / ratio:.2f}x slower"
        else:
            cmp = "–"
        cells = [fmt(v) + "/s" if v is not None else "–" for v in (ov, pv)]
        lat = f"{fmt(o['p99'])} / {fmt(p['p99'])}"
        cpu = "–"
        if o["cpu_per_op"] is not None or p["cpu_per_op"] is not None:
            cpu = " / ".join(fmt(v * 1000 if v is not None else None, 2)
                             for v in (o["cpu_per_op"], p["cpu_per_op"]))
        rss = "–"
        if o["rss"] is not None or p["rss"] is not None:
            rss = f"{fmt(o['rss'], 0)} / {fmt(p['rss'], 0)}"
        lines.append(f"| {case} | {cells[0]} | {cells[1]} | {cmp} | {lat} | {cpu} | {rss} | {failed} |")
    if failures:
        lines.append("")
        lines.append("Failed runs (left out of the medians):")
        lines.append("")
        for f in failures:
            lines.append(f"- {f}")
    text = "\n".join(lines) + "\n"
    with open(out, "w") as f:
        f.write(text)
    print(text)
    return 1 if failures else 0


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "fill-pop3":
        fill_pop3(args[0], int(args[1]), int(args[2]), args[3])
    elif cmd == "fill-imap":
        fill_imap(args[0], int(args[1]), args[2])
    elif cmd == "count":
        print(count_maildir(args[0]))
    elif cmd == "tree-cpu":
        print(f"{tree_cpu(int(args[0])):.2f}")
    elif cmd == "smoke-smtp":
        smoke_smtp(int(args[0]), args[1], args[2])
    elif cmd == "smoke-pop3":
        smoke_pop3(int(args[0]), args[1], args[2])
    elif cmd == "smoke-imap":
        smoke_imap(int(args[0]), args[1], args[2])
    elif cmd == "pss-sample":
        pss_sample(int(args[0]), args[1])
    elif cmd == "smoke-relay":
        smoke_relay(int(args[0]), int(args[1]), args[2])
    elif cmd == "record":
        record(args)
    elif cmd == "report":
        meta = dict(a.split("=", 1) for a in args[2:])
        sys.exit(report(args[0], args[1], meta))
    else:
        raise SystemExit(f"unknown command {cmd}\n{__doc__}")


if __name__ == "__main__":
    main()
