#!/usr/bin/env python3
"""Retrieval benchmark: one POP3 client fetches N messages of SIZE bytes (default
5,000 x 2 KB), from Postern's pop3d and from Debian's Dovecot on the same machine,
alternating (A B A B ...) for ROUNDS rounds, and prints the median times.

Run from the repository root after `cargo build --release --workspace --bins`:
    python3 tests/bench/pop3_retrieve.py [--messages N] [--size BYTES] [--rounds R]
Dovecot (dovecot-pop3d) is installed with apt-get when missing and run as root.
Both servers read the same freshly written Maildir; each round starts from a copy,
so Dovecot's first-time indexing and Postern's first UID assignment are included
(the first login of a migrated mailbox) and measured separately from a second,
warm login.
"""

import argparse
import os
import poplib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.path.join(ROOT, "target", "release")
sys.path.insert(0, HERE)

from benchlib import (OWNER, chown_tree, ensure_dovecot, ensure_owner, free_port,  # noqa: E402
                      wait_port, write_postern_config)


def write_maildir(path, count, size, uid, gid):
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    filler = ("x" * 70 + "\n") * (size // 71 + 1)
    base = int(time.time()) - count
    for n in range(count):
        body = f"From: a@remote.test\nTo: bench@example.org\nSubject: message {n}\n\n{filler}"[:size]
        name = f"{base + n}.M{n}P1Q{n}.bench,S={len(body)}"
        with open(os.path.join(path, "new", name), "w") as f:
            f.write(body)
    chown_tree(path, uid, gid)


def fetch_all(port, user, password):
    start = time.perf_counter()
    p = poplib.POP3("127.0.0.1", port, timeout=120)
    p.user(user)
    p.pass_(password)
    count, _ = p.stat()
    total = 0
    for n in range(1, count + 1):
        _, lines, octets = p.retr(n)
        total += octets
    p.quit()
    return time.perf_counter() - start, count, total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    ensure_dovecot("pop3")
    owner = OWNER
    uid, gid = ensure_owner(owner)

    work = tempfile.mkdtemp(prefix="postern-bench-")
    os.chmod(work, 0o755)
    source = os.path.join(work, "source")
    write_maildir(source, args.messages, args.size, uid, gid)

    # Postern
    pport = free_port()
    etc = write_postern_config(work, owner, "pop3d", pport, "bench@example.org", "pw")
    postern_box = os.path.join(work, "postern-mail", "example.org", "bench")
    master = subprocess.Popen([os.path.join(BIN, "master"), "-c", etc],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    # Dovecot
    dv = os.path.join(work, "dovecot")
    os.makedirs(os.path.join(dv, "run"))
    os.makedirs(os.path.join(dv, "state"))
    dport = free_port()
    dovecot_box = os.path.join(work, "dovecot-mail")
    conf = os.path.join(dv, "dovecot.conf")
    with open(conf, "w") as f:
        f.write(f"""base_dir = {dv}/run
state_dir = {dv}/state
protocols = pop3
ssl = no
disable_plaintext_auth = no
log_path = {dv}/dovecot.log
listen = 127.0.0.1
mail_location = maildir:~
mail_fsync = optimized
service pop3-login {{
  inet_listener pop3 {{
    port = {dport}
  }}
}}
passdb {{
  driver = static
  args = password=pw
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={dovecot_box}
}}
""")
    subprocess.run(["dovecot", "-c", conf], check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(pport)
        wait_port(dport)
        results = {("postern", "first"): [], ("postern", "warm"): [],
                   ("dovecot", "first"): [], ("dovecot", "warm"): []}
        for _ in range(args.rounds):
            for name, box, port in (("postern", postern_box, pport), ("dovecot", dovecot_box, dport)):
                shutil.rmtree(box, ignore_errors=True)
                shutil.copytree(source, box)
                chown_tree(box, uid, gid)
                os.chown(os.path.dirname(box), uid, gid)
                for phase in ("first", "warm"):
                    seconds, count, total = fetch_all(port, "bench@example.org", "pw")
                    assert count == args.messages, (name, count)
                    results[(name, phase)].append(seconds)
        print(f"POP3 retrieval of {args.messages} messages of {args.size} bytes, one client, "
              f"median of {args.rounds} rounds (Python poplib client):")
        print(f"{'login':<7} {'postern s':>10} {'dovecot s':>10} {'postern msg/s':>14} {'dovecot msg/s':>14} {'ratio':>6}")
        for phase in ("first", "warm"):
            p = statistics.median(results[("postern", phase)])
            d = statistics.median(results[("dovecot", phase)])
            print(f"{phase:<7} {p:>10.2f} {d:>10.2f} {args.messages / p:>14.0f} {args.messages / d:>14.0f} {d / p:>6.2f}")
    finally:
        master.terminate()
        master.wait(timeout=30)
        subprocess.run(["doveadm", "-c", conf, "stop"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
