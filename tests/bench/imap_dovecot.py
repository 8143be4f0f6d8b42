"""A private Debian Dovecot IMAP instance for comparisons (not a test).

Used by tests/bench/imap_bench.py and tests/fixtures/mime/regenerate.py (both with
tests/bench/ on sys.path, for benchlib.py). Runs as root: it starts `dovecot -c CONF`
with its own base directory under a temporary directory, listening on 127.0.0.1 on a
free port, with one passwd-file user whose mail is `maildir:HOME/Maildir`, owned by a
system user made for the purpose.
"""

import os
import socket
import subprocess
import time

from benchlib import ensure_dovecot, ensure_owner, free_port, wait_port
from benchlib import chown_tree  # noqa: F401  (for tests/fixtures/mime/regenerate.py)


class Dovecot:
    """One Dovecot instance: `home` holds `Maildir/`; user `user`, password `password`."""

    def __init__(self, work, home, user="bench@example.org", password="pw", extra=""):
        ensure_dovecot()
        self.uid, self.gid = ensure_owner()
        self.dir = os.path.join(work, "dovecot")
        os.makedirs(os.path.join(self.dir, "run"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "state"), exist_ok=True)
        self.home = home
        self.user = user
        self.password = password
        self.port = free_port()
        self.conf = os.path.join(self.dir, "dovecot.conf")
        users = os.path.join(self.dir, "users")
        with open(users, "w") as f:
            f.write(f"{user}:{{PLAIN}}{password}:{self.uid}:{self.gid}::{home}::\n")
        with open(self.conf, "w") as f:
            f.write(f"""base_dir = {self.dir}/run
state_dir = {self.dir}/state
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = {self.dir}/dovecot.log
listen = 127.0.0.1
first_valid_uid = 1
mail_location = maildir:~/Maildir
mail_fsync = optimized
service imap-login {{
  inet_listener imap {{
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
passdb {{
  driver = passwd-file
  args = {users}
}}
userdb {{
  driver = passwd-file
  args = {users}
}}
{extra}
""")

    def start(self):
        subprocess.run(["dovecot", "-c", self.conf], check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)
        return self

    def version(self):
        return subprocess.check_output(["dovecot", "--version"], text=True).strip()

    def stop(self):
        subprocess.run(["doveadm", "-c", self.conf, "stop"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pidfile = os.path.join(self.dir, "run", "master.pid")
        end = time.time() + 30
        while os.path.exists(pidfile) and time.time() < end:
            time.sleep(0.05)


class Conn:
    """A raw IMAP connection that returns whole responses (literals included) as bytes."""

    def __init__(self, port, timeout=600):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = bytearray()
        self.pos = 0
        self.n = 0
        self.greeting = self.read_response()

    def read_response(self):
        scan = self.pos
        while True:
            lf = self.buf.find(b"\n", scan)
            if lf < 0:
                self._fill()
                continue
            n = literal_length(bytes(self.buf[max(scan, lf - 24):lf - 1]))
            if n is None:
                out = bytes(self.buf[self.pos:lf - 1])
                self.pos = lf + 1
                if self.pos > (1 << 20):
                    del self.buf[:self.pos]
                    self.pos = 0
                return out
            need = lf + 1 + n
            while len(self.buf) < need:
                self._fill()
            scan = need

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError(f"connection closed; partial {bytes(self.buf[self.pos:self.pos + 200])!r}")
        self.buf += chunk

    def send_command(self, text):
        self.n += 1
        tag = f"B{self.n:04}".encode()
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        return tag

    def exchange(self, text, each):
        """Sends `TAG text`, calls each(response) for every untagged response, and
        returns the tagged line (bytes), which must be OK."""
        tag = self.send_command(text)
        while True:
            r = self.read_response()
            if r.startswith(tag + b" "):
                if not r.startswith(tag + b" OK"):
                    raise RuntimeError(f"{text}: {r!r}")
                return r
            each(r)

    def command(self, text):
        """Sends `TAG text`; returns (untagged responses, tagged line) as bytes."""
        untagged = []
        tagged = self.exchange(text, untagged.append)
        return untagged, tagged

    def command_count(self, text, keep=None):
        """Like command, but only counts untagged responses (and bytes); keeps those
        for which keep(response) is true."""
        count = size = 0
        kept = []

        def each(r):
            nonlocal count, size
            count += 1
            size += len(r)
            if keep and keep(r):
                kept.append(r)

        self.exchange(text, each)
        return count, size, kept


def literal_length(line):
    if not line.endswith(b"}"):
        return None
    i = line.rfind(b"{")
    if i < 0:
        return None
    digits = line[i + 1:-1].rstrip(b"+")
    return int(digits) if digits.isdigit() else None
