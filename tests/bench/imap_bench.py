#!/usr/bin/env python3
"""IMAP benchmark (prints numbers; not a test): Postern's imapd against Debian's Dovecot
on copies of the same Maildir, for mailboxes of 10,000 and 100,000 messages.

Run from the repository root, as root, after `cargo build --release --workspace --bins`:
    python3 tests/bench/imap_bench.py [--sizes 10000,100000] [--rounds 1]
                                      [--only postern|dovecot] [--bin-dir target/release]

The Maildir holds realistic small messages (2-4 KB: Received lines, a text body; every
25th a multipart/alternative, every 40th with a small base64 attachment), a third of
them seen, some flagged and answered, a few in new/. Each server gets a fresh copy, so
its first login includes building its indexes (Dovecot's dovecot.index*, Postern's
dovecot-uidlist and postern.cache). Timed, in one session each, with a raw-socket
client (tests/bench/imap_dovecot.py's Conn):

    login+select  LOGIN and SELECT INBOX of the fresh copy (first indexing included)
    flags         FETCH 1:* (FLAGS)
    struct cold   FETCH 1:* (ENVELOPE BODYSTRUCTURE), the first time
    struct warm   the same again (the server's own cache now filled)
    search subj   UID SEARCH SUBJECT <a word in 1% of the subjects>
    search unseen UID SEARCH UNSEEN
    relogin       a second session's LOGIN and SELECT

"cold" means the server's cache, not the kernel's page cache (the files were just
written, so they are in memory for both servers). Dovecot (dovecot-core,
dovecot-imapd) is installed with apt-get when missing; Postern's master is started from
--bin-dir with a private main.cf/master.cf, as tests/bench/pop3_retrieve.py does. If
Postern's imapd does not come up, its column says so and Dovecot's numbers still print.
"""

import argparse
import base64
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from benchlib import chown_tree, ensure_owner, free_port, wait_port, write_postern_config  # noqa: E402
from imap_dovecot import Conn, Dovecot  # noqa: E402

USER = "bench@example.org"
PASSWORD = "pw"
SEARCH_WORD = "zeppelin"
WORDS = ("meeting report invoice budget schedule project update review draft notes "
         "quarterly lunch travel plan release status question answer team weekly").split()
BODY_WORDS = ("the a of to and in that is for on with as was at by this be from or have an "
              "are not but we they you it which their will has more one would all about "
              "mail server client message folder test result number value system").split()


def message(n, rnd):
    """The n-th message (LF line endings) and its Maildir flags."""
    day = 1 + n % 28
    subject_words = rnd.sample(WORDS, 3)
    if n % 100 == 7:
        subject_words.append(SEARCH_WORD)
    subject = " ".join(subject_words).capitalize() + f" #{n}"
    sender = f"user{n % 97}@remote{n % 13}.test"
    headers = (
        f"Return-Path: <{sender}>\n"
        f"Delivered-To: {USER}\n"
        f"Received: from mx{n % 5}.remote.test (mx{n % 5}.remote.test [192.0.2.{n % 250 + 1}])\n"
        f"\tby mx.example.org (Postern) with ESMTPS id {n:012X}\n"
        f"\tfor <{USER}>; Mon, {day:2d} Jan 2024 10:{n % 60:02d}:00 +0000\n"
        f"Received: from [10.0.0.{n % 200 + 1}] by mx{n % 5}.remote.test with ESMTPSA; "
        f"Mon, {day:2d} Jan 2024 10:{n % 60:02d}:00 +0000\n"
        f"Date: Mon, {day:2d} Jan 2024 10:{n % 60:02d}:00 +0000\n"
        f"From: User {n % 97} <{sender}>\n"
        f"To: Bench <{USER}>\n"
        + (f"Cc: other{n % 7}@example.org\n" if n % 3 == 0 else "")
        + f"Subject: {subject}\n"
        f"Message-ID: <{n}.{rnd.randrange(1 << 30)}@remote{n % 13}.test>\n"
        "MIME-Version: 1.0\n"
    )
    lines = []
    for _ in range(rnd.randrange(15, 45)):
        lines.append(" ".join(rnd.choice(BODY_WORDS) for _ in range(rnd.randrange(6, 14))))
    text = "\n".join(lines) + "\n"
    if n % 40 == 0:
        attachment = base64.encodebytes(rnd.randbytes(900)).decode()
        body = (
            'Content-Type: multipart/mixed; boundary="mix"\n\n'
            "--mix\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
            f"{text}--mix\nContent-Type: application/octet-stream; name=\"data{n}.bin\"\n"
            f"Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"data{n}.bin\"\n\n"
            f"{attachment}--mix--\n"
        )
    elif n % 25 == 0:
        html = "<html><body><p>" + "</p><p>".join(lines) + "</p></body></html>\n"
        body = (
            'Content-Type: multipart/alternative; boundary="alt"\n\n'
            "--alt\nContent-Type: text/plain; charset=us-ascii\n\n"
            f"{text}--alt\nContent-Type: text/html; charset=us-ascii\n\n{html}--alt--\n"
        )
    else:
        body = "Content-Type: text/plain; charset=us-ascii\n\n" + text
    flags = ""
    if n % 7 == 0:
        flags += "F"
    if n % 11 == 0:
        flags += "R"
    if n % 3 != 1:
        flags += "S"
    return headers + body, flags


def write_maildir(path, count, uid, gid):
    rnd = random.Random(count)
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    base = 1700000000
    unseen = 0
    for n in range(count):
        text, flags = message(n, rnd)
        data = text.encode()
        wire = len(data) + text.count("\n")
        name = f"{base + n}.M{n}P{n % 30000}.bench,S={len(data)},W={wire}"
        if n >= count - 20:
            # The newest few are still in new/.
            target = os.path.join(path, "new", name)
            unseen += 1
        else:
            target = os.path.join(path, "cur", f"{name}:2,{''.join(sorted(flags))}")
            unseen += "S" not in flags
        with open(target, "wb") as f:
            f.write(data)
        os.utime(target, (base + n, base + n))
    chown_tree(path, uid, gid)
    return unseen


def copy_maildir(source, target, uid, gid):
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copytree(source, target)
    chown_tree(target, uid, gid)


class Postern:
    def __init__(self, work, bin_dir, owner):
        self.work = work
        self.bin_dir = bin_dir
        self.port = free_port()
        self.base = os.path.join(work, "postern-mail")
        self.box = os.path.join(self.base, "example.org", "bench")
        self.etc = write_postern_config(work, owner, "imapd", self.port, USER, PASSWORD,
                                        extra=f"daemon_directory = {bin_dir}\n")
        self.master = None

    def start(self):
        self.stderr = os.path.join(self.work, "master.stderr")
        with open(self.stderr, "w") as err:
            self.master = subprocess.Popen([os.path.join(self.bin_dir, "master"), "-c", self.etc],
                                           stdout=subprocess.DEVNULL, stderr=err)
        try:
            wait_port(self.port)
        except SystemExit as e:
            with open(self.stderr) as err:
                raise RuntimeError(f"{e}; master said: {err.read().strip()}") from None
        # Something listens (master binds the socket); check imapd answers.
        c = Conn(self.port, timeout=30)
        if not c.greeting.startswith(b"* OK"):
            raise RuntimeError(f"greeting {c.greeting!r}")
        c.sock.close()
        return self

    def stop(self):
        if self.master:
            self.master.terminate()
            try:
                self.master.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.master.kill()


def run_session(port, count, unseen):
    """Times one server's phases on a fresh copy; returns {phase: seconds}."""
    times = {}
    t = time.perf_counter()
    c = Conn(port)
    c.command(f"LOGIN {USER} {PASSWORD}")
    untagged, _ = c.command("SELECT INBOX")
    times["login+select"] = time.perf_counter() - t
    exists = next(int(r.split()[1]) for r in untagged if r.endswith(b" EXISTS"))
    assert exists == count, (exists, count)

    t = time.perf_counter()
    n, _, _ = c.command_count("FETCH 1:* (FLAGS)")
    times["flags"] = time.perf_counter() - t
    assert n >= count, n

    for phase in ("struct cold", "struct warm"):
        t = time.perf_counter()
        n, size, _ = c.command_count("FETCH 1:* (ENVELOPE BODYSTRUCTURE)")
        times[phase] = time.perf_counter() - t
        assert n >= count, n

    t = time.perf_counter()
    _, _, kept = c.command_count(f"UID SEARCH SUBJECT {SEARCH_WORD}",
                                 keep=lambda r: r.startswith(b"* SEARCH"))
    times["search subj"] = time.perf_counter() - t
    found = len(kept[0].split()) - 2
    expected = sum(1 for i in range(count) if i % 100 == 7)
    assert found == expected, (found, expected)

    t = time.perf_counter()
    _, _, kept = c.command_count("UID SEARCH UNSEEN", keep=lambda r: r.startswith(b"* SEARCH"))
    times["search unseen"] = time.perf_counter() - t
    found = len(kept[0].split()) - 2
    assert found == unseen, (found, unseen)
    c.send_command("LOGOUT")
    c.sock.close()

    t = time.perf_counter()
    d = Conn(port)
    d.command(f"LOGIN {USER} {PASSWORD}")
    d.command("SELECT INBOX")
    times["relogin"] = time.perf_counter() - t
    d.send_command("LOGOUT")
    d.sock.close()
    return times


PHASES = ["login+select", "flags", "struct cold", "struct warm", "search subj", "search unseen",
          "relogin"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--only", choices=["postern", "dovecot"])
    ap.add_argument("--bin-dir", default=os.path.join(ROOT, "target", "release"))
    args = ap.parse_args()
    args.bin_dir = os.path.abspath(args.bin_dir)
    sizes = [int(s) for s in args.sizes.split(",")]
    owner = "postern-bench"
    uid, gid = ensure_owner(owner)
    work = tempfile.mkdtemp(prefix="postern-imap-bench-")
    os.chmod(work, 0o755)
    results = {}
    notes = []
    dovecot = postern = None
    try:
        if args.only != "postern":
            dovecot_home = os.path.join(work, "dovecot-home")
            dovecot = Dovecot(work, dovecot_home, user=USER, password=PASSWORD).start()
            notes.append(f"Dovecot {dovecot.version()}")
        if args.only != "dovecot":
            imapd = os.path.join(args.bin_dir, "imapd")
            if not os.path.exists(imapd):
                notes.append(f"Postern skipped: {imapd} not built")
            else:
                postern = Postern(work, args.bin_dir, owner)
                try:
                    postern.start()
                    notes.append(f"Postern imapd from {args.bin_dir}")
                except Exception as e:  # noqa: BLE001 - report and go on with Dovecot
                    notes.append(f"Postern skipped: imapd did not come up ({e!r})")
                    postern.stop()
                    postern = None
        for count in sizes:
            source = os.path.join(work, f"source-{count}")
            t = time.perf_counter()
            unseen = write_maildir(source, count, uid, gid)
            print(f"built a {count}-message Maildir in {time.perf_counter() - t:.1f}s "
                  f"({unseen} unseen)", flush=True)
            servers = []
            if dovecot:
                servers.append(("dovecot", os.path.join(dovecot.home, "Maildir"), dovecot.port))
            if postern:
                servers.append(("postern", postern.box, postern.port))
            for name, box, port in servers:
                runs = []
                for _ in range(args.rounds):
                    copy_maildir(source, box, uid, gid)
                    if name == "dovecot":
                        os.chown(dovecot.home, uid, gid)
                    try:
                        runs.append(run_session(port, count, unseen))
                    except Exception as e:  # noqa: BLE001 - one server failing is a result
                        notes.append(f"{name} {count}: failed: {e!r}")
                        break
                if runs:
                    results[(name, count)] = {p: statistics.median(r[p] for r in runs)
                                              for p in PHASES}
            shutil.rmtree(source, ignore_errors=True)
        print()
        print("IMAP, one client, seconds (median of %d round%s); %s" %
              (args.rounds, "" if args.rounds == 1 else "s", "; ".join(notes)))
        header = f"{'phase':<14}"
        columns = [(name, count) for count in sizes for name in ("postern", "dovecot")
                   if (name, count) in results]
        for name, count in columns:
            header += f" {name + ' ' + str(count // 1000) + 'k':>14}"
        print(header)
        for phase in PHASES:
            row = f"{phase:<14}"
            for key in columns:
                row += f" {results[key][phase]:>14.3f}"
            print(row)
    finally:
        if postern:
            postern.stop()
        if dovecot:
            dovecot.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
