"""Helpers shared by the benchmarks in tests/bench/ (not a test): free ports, waiting
for a listener, the system user that owns the benchmark Maildirs, Dovecot packages and
Postern's private configuration.
"""

import os
import shutil
import socket
import subprocess
import time

OWNER = "postern-bench"


def ensure_dovecot(protocol="imap"):
    """Installs dovecot-core and dovecot-PROTOCOLd with apt-get when missing."""
    if shutil.which("dovecot") and os.path.exists(f"/usr/lib/dovecot/{protocol}"):
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-qq", "dovecot-core", f"dovecot-{protocol}d"],
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


def write_postern_config(work, owner, service, port, user, password, extra=""):
    """Writes a private Postern configuration to WORK/etc: main.cf (spool, log and the
    Maildirs below WORK, mail in WORK/postern-mail, plus the `extra` lines), a master.cf
    running SERVICE on 127.0.0.1:PORT, and a users file with the one user. Returns the
    configuration directory."""
    etc = os.path.join(work, "etc")
    os.makedirs(etc, exist_ok=True)
    with open(os.path.join(etc, "main.cf"), "w") as f:
        f.write(f"""queue_directory = {work}/spool
mail_owner = {owner}
myhostname = bench.example
inet_interfaces = loopback-only
inet_protocols = ipv4
virtual_mailbox_domains = example.org
virtual_mailbox_base = {work}/postern-mail
virtual_user_maps = passwd-file:{etc}/users
alias_maps =
maillog_file = {work}/maillog
{extra}""")
    with open(os.path.join(etc, "master.cf"), "w") as f:
        f.write(f"127.0.0.1:{port} inet n - n - - {service}\n")
    with open(os.path.join(etc, "users"), "w") as f:
        f.write(f"{user}:{{PLAIN}}{password}\n")
    return etc
