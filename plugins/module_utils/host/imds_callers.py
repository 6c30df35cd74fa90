# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who talks to the instance metadata service: TCP connections and their processes, and outdated SDKs on disk.

Contract: `look(root)` reads (never writes) under the filesystem root `root` and returns
{"connections": [{pid, pids, command, user, remote, state}], "sdks": [{name, version, minimum, path, outdated}],
"outdated": [the sdks with outdated true], "unreadable": {"processes": n, "files": [...]}, "summary": a line}. Standard library only
(Python 3.8+). A look is a sample: a metadata request lasts milliseconds, so a connection is seen only while it
is open (or in TIME_WAIT, when the kernel still shows its uid but no process owns it any more). Command lines are
redacted like the credentials scan's.

Linux facts relied on (proc(5), /proc/net/tcp): each line of /proc/<pid>/net/tcp and tcp6 (the tables of that
process's network namespace; /proc/net/tcp is the reader's own) has local and remote address as hex `ADDR:PORT`,
the address in the kernel's byte order (little-endian 32-bit words on x86 and arm64: 169.254.169.254 is FEA9FEA9),
the port big-endian (80 is 0050), then state, queues, timers, the uid and the socket inode; a process's open
sockets are its /proc/<pid>/fd/* symlinks to `socket:[inode]`.

AWS facts relied on: IMDS answers at 169.254.169.254:80 and, on Nitro instances with the IPv6 endpoint enabled,
[fd00:ec2::254]:80 (EC2 user guide, "Access instance metadata for an EC2 instance"). The minimum versions that
support IMDSv2 are the ones AWS publishes in the EC2 user guide, "Use a supported AWS SDK"
(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/use-a-supported-sdk-version-for-imdsv2.html): AWS CLI
1.16.289, AWS SDK for Python (Botocore) 1.13.25 and (Boto3) 1.12.6, AWS SDK for Java 1.11.678 and Java 2.x 2.10.21,
AWS SDK for JavaScript in Node.js 2.722.0 (and others not looked for here: .NET, C++, Go, PHP, Ruby, PowerShell,
which live in binaries or language-specific places). The SSM agent's version is reported without a minimum: the
page gives none (issue 23 mentions agents before 3.0.431.0 probing IMDSv1; that is not an AWS-published minimum).
"""

from __future__ import annotations

import glob
import ipaddress
import json
import os
import re

from ansible_collections.keyless.aws.plugins.module_utils.host.common import (
    Reads, host_path, list_dir, passwd, read_bytes, read_text, redact_command, user_names)
from ansible_collections.keyless.aws.plugins.module_utils.host.credentials import process_uid

IMDS_ADDRESSES = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))
IMDS_PORT = 80
TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
              "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN",
              "0B": "CLOSING"}
# EC2 user guide, "Use a supported AWS SDK" (see the module docstring): the first versions that support IMDSv2
MINIMUM_VERSIONS = {
    "awscli": "1.16.289",
    "botocore": "1.13.25",
    "boto3": "1.12.6",
    "aws-java-sdk": "1.11.678",
    "aws-sdk-java-v2": "2.10.21",
    "aws-sdk-js": "2.722.0",
}
SITE_PACKAGES = ("usr/lib/python*/site-packages", "usr/lib/python*/dist-packages", "usr/lib64/python*/site-packages",
                 "usr/local/lib/python*/site-packages", "usr/local/lib/python*/dist-packages",
                 "usr/local/lib64/python*/site-packages", "opt/*/lib/python*/site-packages",
                 "opt/*/*/lib/python*/site-packages", "opt/*/*/*/lib/python*/site-packages",
                 "srv/*/lib/python*/site-packages", "srv/*/*/lib/python*/site-packages")
NODE_MODULES = ("usr/lib/node_modules", "usr/local/lib/node_modules", "opt/*/node_modules", "opt/*/*/node_modules",
                "srv/*/node_modules", "srv/*/*/node_modules")
JAR_DIRS = ("usr/share/java", "opt/*", "opt/*/lib", "opt/*/*/lib", "opt/*/libs", "opt/*/WEB-INF/lib",
            "opt/*/*/WEB-INF/lib", "srv/*/lib", "srv/*/*/lib", "var/lib/*/webapps/*/WEB-INF/lib")
_PY_DIST = re.compile(r"^(botocore|boto3|awscli)-([0-9][^-]*?)(?:-py[0-9.]+)?\.(dist-info|egg-info)$", re.I)
_JAR = re.compile(r"^(aws-java-sdk-core|sdk-core)-([0-9][0-9A-Za-z.]*)\.jar$")


# --- connections -----------------------------------------------------------------------------------
def decode_address(text):
    """(ip_address, port) of a /proc/net/tcp{,6} `HEX:PORT` field; IPv4-mapped IPv6 addresses come back as IPv4."""
    addr, _sep, port = text.partition(":")
    raw = bytes.fromhex(addr)
    if len(raw) == 4:
        ip = ipaddress.IPv4Address(raw[::-1])
    elif len(raw) == 16:
        ip = ipaddress.IPv6Address(b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
    else:
        raise ValueError("address of %d bytes" % len(raw))
    return ip, int(port, 16)


def parse_tcp_table(text):
    """[{remote, port, state, uid, inode}] of the connections to IMDS in one /proc/net/tcp or tcp6 table."""
    out = []
    for line in (text or "").splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        try:
            ip, port = decode_address(fields[2])
            uid, inode = int(fields[7]), int(fields[9])
        except ValueError:
            continue
        if ip in IMDS_ADDRESSES and port == IMDS_PORT and fields[3] != "0A":
            remote = ("[%s]:%d" if ip.version == 6 else "%s:%d") % (ip, port)
            out.append({"remote": remote, "state": TCP_STATES.get(fields[3].upper(), fields[3]), "uid": uid,
                        "inode": inode, "local": fields[1]})
    return out


def _tables(root, pids, reads):
    """Every distinct network namespace's IMDS connections: /proc/net/tcp{,6} and /proc/<pid>/net/... per namespace."""
    found, seen_ns = [], set()
    sources = [("/proc/net", None)]
    for pid in pids:
        try:
            ns = os.readlink(os.path.join(root, "proc", pid, "ns", "net"))
        except OSError:
            continue
        if ns not in seen_ns:
            seen_ns.add(ns)
            sources.append(("/proc/%s/net" % pid, ns))
    keys = set()
    for base, _ns in sources:
        for table in ("tcp", "tcp6"):
            for conn in parse_tcp_table(read_text(root, base + "/" + table, reads)):
                key = (conn["inode"], conn["local"], conn["remote"]) if conn["inode"] else (conn["local"], conn["remote"])
                if key not in keys:
                    keys.add(key)
                    found.append(conn)
    return found


def socket_owners(root, pids, inodes, reads):
    """{inode: [pid, ...]} from the /proc/<pid>/fd/* links to `socket:[inode]` (only the inodes asked for)."""
    owners = {}
    if not inodes:
        return owners
    for pid in pids:
        fd_dir = os.path.join(root, "proc", pid, "fd")
        try:
            fds = os.listdir(fd_dir)
        except FileNotFoundError:
            continue
        except OSError:
            reads.processes += 1
            continue
        for fd in fds:
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if target.startswith("socket:[") and target.endswith("]"):
                try:
                    inode = int(target[8:-1])
                except ValueError:
                    continue
                if inode in inodes and pid not in owners.setdefault(inode, []):
                    owners[inode].append(pid)
    return owners


def connections(root="/", reads=None, names=None):
    reads = reads if reads is not None else Reads()
    names = names if names is not None else user_names(passwd(root, reads))
    pids = [p for p in list_dir(root, "/proc") if p.isdigit()]
    conns = _tables(root, pids, reads)
    owners = socket_owners(root, pids, set(c["inode"] for c in conns if c["inode"]), reads)
    out = []
    for conn in conns:
        owner_pids = sorted(owners.get(conn["inode"], []), key=int) if conn["inode"] else []
        command = None
        user = names.get(conn["uid"], str(conn["uid"]))
        if owner_pids:
            proc = "/proc/" + owner_pids[0]
            argv = [a.decode("utf-8", "replace") for a in (read_bytes(root, proc + "/cmdline") or b"").split(b"\0") if a]
            command = redact_command(argv) or "[%s]" % (read_text(root, proc + "/comm") or "?").strip()
            uid = process_uid(root, proc)
            if uid is not None:
                user = names.get(uid, str(uid))
        out.append({"pid": int(owner_pids[0]) if owner_pids else None, "pids": [int(p) for p in owner_pids],
                    "command": command, "user": user, "remote": conn["remote"], "state": conn["state"]})
    return out


# --- SDK and agent versions -----------------------------------------------------------------------------
def version_tuple(text):
    """(1, 13, 25) of "1.13.25" (a suffix like rc1 or .dev0 ends the number); () when it has no leading number."""
    parts = []
    for piece in (text or "").split("."):
        match = re.match(r"\d+", piece)
        if not match:
            break
        parts.append(int(match.group(0)))
        if match.group(0) != piece:
            break
    return tuple(parts)


def is_outdated(version, minimum):
    have, need = version_tuple(version), version_tuple(minimum)
    if not have or not need:
        return None
    return have < need


def _metadata_version(root, path):
    """Version: of a dist-info/METADATA, egg-info/PKG-INFO, or an egg-info that is itself the PKG-INFO file."""
    full = os.path.join(root, path.lstrip("/"))
    candidates = [path + "/METADATA", path + "/PKG-INFO"] if os.path.isdir(full) else [path]
    for candidate in candidates:
        text = read_text(root, candidate, limit=64 * 1024)
        for line in (text or "").splitlines():
            if line.startswith("Version:"):
                return line.split(":", 1)[1].strip()
            if not line.strip():
                break  # end of the headers
    return None


def _glob(root, pattern):
    return sorted(glob.glob(os.path.join(glob.escape(root), pattern)))


def python_sdks(root, homes=()):
    dirs = []
    for pattern in SITE_PACKAGES:
        dirs.extend(_glob(root, pattern))
    for home in homes:
        dirs.extend(_glob(root, home.strip("/") + "/.local/lib/python*/site-packages"))
    out, seen = [], set()
    for full in dirs:
        real = os.path.realpath(full)
        if real in seen:
            continue
        seen.add(real)
        try:
            entries = sorted(os.listdir(full))
        except OSError:
            continue
        for entry in entries:
            match = _PY_DIST.match(entry)
            if not match:
                continue
            path = host_path(root, os.path.join(full, entry))
            name = match.group(1).lower()
            out.append(_sdk(name, _metadata_version(root, path) or match.group(2), path))
    return out


def cli_v2(root):
    """AWS CLI v2 installs (the bundled installer keeps one directory per version under /usr/local/aws-cli/v2)."""
    out = []
    for full in _glob(root, "usr/local/aws-cli/v2/*"):
        name = os.path.basename(full)
        if version_tuple(name) and os.path.isdir(full):
            out.append(_sdk("awscli", name, host_path(root, full)))
    return out


def node_sdks(root):
    out = []
    for pattern in NODE_MODULES:
        for full in _glob(root, pattern + "/aws-sdk/package.json"):
            path = host_path(root, full)
            try:
                version = json.loads(read_text(root, path, limit=256 * 1024) or "{}").get("version")
            except ValueError:
                version = None
            if version:
                out.append(_sdk("aws-sdk-js", version, path))
    return out


def java_sdks(root):
    out, seen = [], set()
    for pattern in JAR_DIRS:
        for full in _glob(root, pattern + "/*.jar"):
            match = _JAR.match(os.path.basename(full))
            if not match or full in seen:
                continue
            seen.add(full)
            name = "aws-java-sdk" if match.group(1) == "aws-java-sdk-core" else "aws-sdk-java-v2"
            out.append(_sdk(name, match.group(2), host_path(root, full)))
    return out


def ssm_agent(root):
    """The amazon-ssm-agent version from the dpkg database or its snap; no minimum (none is published)."""
    out = []
    status = read_text(root, "/var/lib/dpkg/status", limit=32 * 1024 * 1024) or ""
    for stanza in status.split("\n\n"):
        if "\nPackage: amazon-ssm-agent\n" in "\n" + stanza + "\n":
            for line in stanza.splitlines():
                if line.startswith("Version:"):
                    out.append(_sdk("amazon-ssm-agent", line.split(":", 1)[1].strip(), "/var/lib/dpkg/status"))
    snap = read_text(root, "/snap/amazon-ssm-agent/current/meta/snap.yaml") or ""
    for line in snap.splitlines():
        if line.startswith("version:"):
            out.append(_sdk("amazon-ssm-agent", line.split(":", 1)[1].strip().strip("'\""),
                            "/snap/amazon-ssm-agent/current/meta/snap.yaml"))
    return out


def _sdk(name, version, path):
    minimum = MINIMUM_VERSIONS.get(name)
    return {"name": name, "version": version, "minimum": minimum, "path": path,
            "outdated": is_outdated(version, minimum) if minimum else None}


def sdks(root="/", homes=()):
    return python_sdks(root, homes) + cli_v2(root) + node_sdks(root) + java_sdks(root) + ssm_agent(root)


def look(root="/"):
    reads = Reads()
    users = passwd(root, reads)
    found = sdks(root, [home for _u, _i, home in users if home not in ("/", "/nonexistent")])
    result = {"connections": connections(root, reads, user_names(users)), "sdks": found,
              "outdated": [s for s in found if s["outdated"]], "unreadable": reads.as_dict()}
    result["summary"] = describe(result)
    return result


def describe(result):
    """One line for a person: who was seen talking to IMDS and what is too old for IMDSv2."""
    parts = []
    conns = result.get("connections") or []
    if conns:
        parts.append("connections to IMDS: " + "; ".join(
            "%s by %s (user %s, %s)" % (c["remote"], "pid %s %s" % (c["pid"], c["command"]) if c["pid"] else "no process",
                                        c["user"], c["state"]) for c in conns))
    else:
        parts.append("no connection to IMDS open at the time of the look")
    old = result.get("outdated") or []
    if old:
        parts.append("older than AWS's minimum for IMDSv2: " + "; ".join(
            "%s %s < %s at %s" % (s["name"], s["version"], s["minimum"], s["path"]) for s in old))
    return "; ".join(parts)
