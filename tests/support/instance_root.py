"""An emulated instance filesystem (a fake root) for imds_info's look on the host (`host_root`).

imds_info reads /proc, /etc, the homes, systemd units and site-packages under its `host_root` option; these
helpers build such a root in a temporary directory, so that the credentials scan and the IMDS callers look run
without root and without a real instance:

    root = InstanceRoot(tmp_path / "web1")
    root.user("app", 1000, "/home/app")
    root.file("/home/app/.aws/credentials", "[default]\\naws_access_key_id = ...\\n")
    root.process(4242, ["python3", "/srv/app/worker.py"], {"AWS_ACCESS_KEY_ID": "..."}, uid=1000,
                 sockets={3: 91001})
    root.tcp([tcp_line(0, "10.0.0.5", 43210, "169.254.169.254", 80, "01", 1000, 91001)])
    root.unit("app.service", "[Service]\\nEnvironment=AWS_ACCESS_KEY_ID=...\\n")
    root.python_package("/usr/lib/python3/dist-packages", "botocore", "1.12.253")

/proc/<pid>/fd/N are dangling symlinks to `socket:[inode]` (os.readlink reads them like the kernel's), and
/proc/net/tcp lines are written in the kernel's format (little-endian hex addresses).

The three instances of the keys scenario (issue 24): `key_in_file` (a static key in /home/app/.aws/credentials,
a second profile with a session key, and a role profile chained to it), `key_in_process` (a worker with the key
in its environment, its secret also on its command line), and `clean` (a role profile with
credential_source = Ec2InstanceMetadata, an ordinary process, a unit without AWS variables). SECRETS lists every
secret access key and session token seeded: none may ever show up in a result or a log.
"""

from __future__ import annotations

import ipaddress
import os
import pathlib

FILE_KEY_ID = "AKIAKEYLESSFILEKEY01"
FILE_SECRET = "keylessSeededFileSecret/DoNotLeak+0123456789ab"
SESSION_KEY_ID = "ASIAKEYLESSSESSION02"
SESSION_SECRET = "keylessSeededSessionSecret/DoNotLeak+98765432"
SESSION_TOKEN = "keylessSeededSessionToken//DoNotLeak+IQoJb3JpZ2luX2VjEXAMPLETOKENvalue=="
PROC_KEY_ID = "AKIAKEYLESSPROCKEY03"
PROC_SECRET = "keylessSeededProcessSecret/DoNotLeak+abcdef01"
UNIT_KEY_ID = "AKIAKEYLESSUNITKEY04"
UNIT_SECRET = "keylessSeededUnitSecret/DoNotLeak+0000aaaa1111"
PROCESS_SECRET_ARG = "keylessSeededCredProcArg/DoNotLeak+SuperSecret"
SECRETS = (FILE_SECRET, SESSION_SECRET, SESSION_TOKEN, PROC_SECRET, UNIT_SECRET, PROCESS_SECRET_ARG)
KEY_IDS = (FILE_KEY_ID, SESSION_KEY_ID, PROC_KEY_ID, UNIT_KEY_ID)


def masked(key_id):
    return "%s...%s" % (key_id[:4], key_id[-4:])


def hex_address(address):
    """An address as /proc/net/tcp{,6} writes it: 32-bit words in little-endian byte order, upper-case hex."""
    packed = ipaddress.ip_address(address).packed
    return "".join(packed[i:i + 4][::-1].hex().upper() for i in range(0, len(packed), 4))


def tcp_line(slot, local, lport, remote, rport, state, uid, inode):
    """One line of /proc/net/tcp (or tcp6, for IPv6 addresses)."""
    return ("%4d: %s:%04X %s:%04X %s 00000000:00000000 00:00000000 00000000 %5d        0 %d 1 0000000000000000 20 4 30 10 -1"
            % (slot, hex_address(local), lport, hex_address(remote), rport, state, uid, inode))


TCP_HEADER = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode")
TCP6_HEADER = ("  sl  local_address                         remote_address                        st tx_queue rx_queue tr "
               "tm->when retrnsmt   uid  timeout inode")


class InstanceRoot:
    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.users = [("root", 0, "/root")]
        for sub in ("etc", "proc", "root", "home"):
            (self.path / sub).mkdir(exist_ok=True)
        self._write_passwd()

    def __str__(self):
        return str(self.path)

    def at(self, path):
        return self.path / path.lstrip("/")

    def file(self, path, text, mode=0o600):
        full = self.at(path)
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(text)
        os.chmod(str(full), mode)
        return full

    def remove(self, path):
        full = self.at(path)
        if full.is_symlink() or full.is_file():
            full.unlink()

    def user(self, name, uid, home):
        self.users.append((name, uid, home))
        self.at(home).mkdir(parents=True, exist_ok=True)
        self._write_passwd()

    def _write_passwd(self):
        lines = ["%s:x:%d:%d::%s:/bin/sh" % (name, uid, uid, home) for name, uid, home in self.users]
        lines.append("nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin")
        self.file("/etc/passwd", "\n".join(lines) + "\n", mode=0o644)

    def process(self, pid, argv, environ, uid=0, sockets=None, netns=None):
        """/proc/<pid> with cmdline, environ (NUL-separated), status (Uid:) and fd/N -> socket:[inode] links."""
        proc = self.at("/proc/%d" % pid)
        proc.mkdir(parents=True, exist_ok=True)
        (proc / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
        env = dict({"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, **environ)
        (proc / "environ").write_bytes(b"".join(("%s=%s" % kv).encode() + b"\0" for kv in env.items()))
        (proc / "comm").write_text(os.path.basename(argv[0]) if argv else "kworker")
        (proc / "status").write_text("Name:\t%s\nUid:\t%d\t%d\t%d\t%d\n" % (argv[0] if argv else "k", uid, uid, uid, uid))
        fd = proc / "fd"
        fd.mkdir(exist_ok=True)
        for number, inode in (sockets or {}).items():
            os.symlink("socket:[%d]" % inode, str(fd / str(number)))
        if netns:
            (proc / "ns").mkdir(exist_ok=True)
            os.symlink("net:[%d]" % netns, str(proc / "ns" / "net"))
        return proc

    def set_environ(self, pid, environ):
        env = dict({"PATH": "/usr/bin:/bin"}, **environ)
        self.at("/proc/%d/environ" % pid).write_bytes(b"".join(("%s=%s" % kv).encode() + b"\0" for kv in env.items()))

    def tcp(self, lines, v6=False, base="/proc/net"):
        name = "tcp6" if v6 else "tcp"
        self.file("%s/%s" % (base, name), "\n".join([TCP6_HEADER if v6 else TCP_HEADER] + list(lines)) + "\n", mode=0o444)

    def unit(self, name, text, directory="/etc/systemd/system"):
        return self.file("%s/%s" % (directory, name), text, mode=0o644)

    def python_package(self, site, name, version, style="dist-info"):
        if style == "dist-info":
            self.file("%s/%s-%s.dist-info/METADATA" % (site, name, version),
                      "Metadata-Version: 2.1\nName: %s\nVersion: %s\n\nlong description\n" % (name, version), mode=0o644)
        else:
            self.file("%s/%s-%s-py3.8.egg-info/PKG-INFO" % (site, name, version),
                      "Metadata-Version: 1.1\nName: %s\nVersion: %s\n" % (name, version), mode=0o644)


def _base(path):
    root = InstanceRoot(path)
    root.user("app", 1000, "/home/app")
    root.process(1, ["/sbin/init", "splash"], {"HOME": "/root"})
    root.process(700, ["/usr/sbin/sshd", "-D"], {"HOME": "/root"})
    root.unit("sshd.service", "[Unit]\nDescription=OpenSSH\n[Service]\nExecStart=/usr/sbin/sshd -D\n"
                              "Environment=SSHD_OPTS=\n")
    root.tcp([tcp_line(0, "0.0.0.0", 22, "0.0.0.0", 0, "0A", 0, 15000)])
    return root


def key_in_file(path):
    """An instance with keys in the app user's shared credentials file (static, session, and a role chained to it)."""
    root = _base(path)
    root.file("/home/app/.aws/credentials", (
        "[default]\n"
        "aws_access_key_id = %s\n"
        "aws_secret_access_key = %s\n"
        "\n"
        "[batch]\n"
        "aws_access_key_id=%s\n"
        "aws_secret_access_key=%s\n"
        "aws_session_token=%s\n" % (FILE_KEY_ID, FILE_SECRET, SESSION_KEY_ID, SESSION_SECRET, SESSION_TOKEN)))
    root.file("/home/app/.aws/config", (
        "[default]\nregion = us-east-1\n\n"
        "[profile reports]\nrole_arn = arn:aws:iam::123456789012:role/Reports\nsource_profile = default\n\n"
        "[sso-session corp]\nsso_start_url = https://example.awsapps.com/start\n"))
    root.process(2001, ["/usr/bin/python3", "/srv/app/server.py"], {"HOME": "/home/app"}, uid=1000)
    return root


def remove_file_keys(root):
    root.remove("/home/app/.aws/credentials")
    root.file("/home/app/.aws/config", "[default]\nregion = us-east-1\n")


def key_in_process(path):
    """An instance whose worker has a key in its environment (and its secret on the command line)."""
    root = _base(path)
    root.process(4242, ["/usr/bin/python3", "/srv/app/worker.py", "--secret-key", PROC_SECRET, "--queue", "jobs"],
                 {"HOME": "/home/app", "AWS_ACCESS_KEY_ID": PROC_KEY_ID, "AWS_SECRET_ACCESS_KEY": PROC_SECRET,
                  "AWS_REGION": "us-east-1"}, uid=1000)
    root.process(4243, ["/usr/bin/python3", "/srv/app/worker.py", "--secret-key", PROC_SECRET, "--queue", "jobs"],
                 {"HOME": "/home/app", "AWS_ACCESS_KEY_ID": PROC_KEY_ID, "AWS_SECRET_ACCESS_KEY": PROC_SECRET,
                  "AWS_REGION": "us-east-1"}, uid=1000)
    return root


def remove_process_keys(root):
    for pid in (4242, 4243):
        root.set_environ(pid, {"HOME": "/home/app", "AWS_REGION": "us-east-1"})
        root.file("/proc/%d/cmdline" % pid, "\0".join(["/usr/bin/python3", "/srv/app/worker.py", "--queue", "jobs"]) + "\0")


def clean(path):
    """An instance with nothing ahead of the instance profile: a role profile that uses instance metadata."""
    root = _base(path)
    root.file("/home/app/.aws/config", (
        "[default]\nregion = us-east-1\n\n"
        "[profile reports]\nrole_arn = arn:aws:iam::123456789012:role/Reports\n"
        "credential_source = Ec2InstanceMetadata\n"))
    root.process(2001, ["/usr/bin/python3", "/srv/app/server.py"], {"HOME": "/home/app", "AWS_REGION": "us-east-1"},
                 uid=1000)
    return root
