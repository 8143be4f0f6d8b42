"""A private Debian Dovecot IMAP instance for comparisons (not a test).

Used by tests/bench/imap_bench.py and tests/fixtures/mime/regenerate.py. Runs as
root: it starts `dovecot -c CONF` with its own base directory under a temporary
directory, listening on 127.0.0.1 on a free port, with one passwd-file user whose
mail is `maildir:HOME/Maildir`, owned by a system user made for the purpose.
"""

import os
import shutil
import socket
import subprocess
import time

OWNER = "postern-bench"


def ensure_dovecot():
    """Installs dovecot-core and dovecot-imapd with apt-get when missing."""
    if shutil.which("dovecot") and os.path.exists("/usr/lib/dovecot/imap"):
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-qq", "dovecot-core", "dovecot-imapd"],
                   check=True, stdout=subprocess.DEVNULL, env=env)


def ensure_owner(name=OWNER):
    """The (uid, gid) of system user `name`, created when missing."""
    if subprocess.run(["id", name], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", name], check=True)
    uid = int(subprocess.check_output(["id", "-u", name]))
    gid = int(subprocess.check_output(["id", "-g", name]))
    return uid, gid


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, deadline=30):
    end = time.time() + deadline
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


def chown_tree(path, uid, gid):
    os.chown(path, uid, gid)
    for dirpath, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(dirpath, name), uid, gid)


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

    def command(self, text):
        """Sends `TAG text`; returns (untagged responses, tagged line) as bytes."""
        tag = self.send_command(text)
        untagged = []
        while True:
            r = self.read_response()
            if r.startswith(tag + b" "):
                if not r.startswith(tag + b" OK"):
                    raise RuntimeError(f"{text}: {r!r}")
                return untagged, r
            untagged.append(r)

    def command_count(self, text, keep=None):
        """Like command, but only counts untagged responses (and bytes); keeps those
        for which keep(response) is true."""
        tag = self.send_command(text)
        count = size = 0
        kept = []
        while True:
            r = self.read_response()
            if r.startswith(tag + b" "):
                if not r.startswith(tag + b" OK"):
                    raise RuntimeError(f"{text}: {r!r}")
                return count, size, kept
            count += 1
            size += len(r)
            if keep and keep(r):
                kept.append(r)


def literal_length(line):
    if not line.endswith(b"}"):
        return None
    i = line.rfind(b"{")
    if i < 0:
        return None
    digits = line[i + 1:-1].rstrip(b"+")
    return int(digits) if digits.isdigit() else None
