# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading an instance's files under a root path, masking access key ids and redacting command lines.

Contract: standard library only (Python 3.8+), reads only. A path of the instance ("/etc/passwd") is read at
`root` + path; an absolute symlink found on the way (its last component) is followed inside `root`, not on the
machine that runs the code (a container that mounts the host at /host sees the host's /etc/alternatives/x ->
/usr/bin/x as /host/usr/bin/x). A file that cannot be read for lack of permission is recorded in a `Reads`
(`unreadable`), never fatal; a file that does not exist is simply absent.

AWS facts relied on: access key ids are 16 to 128 characters, long-term ones start with AKIA and temporary ones
with ASIA (IAM API reference, AccessKey data type; IAM user guide, "Unique identifiers"); only the id may be
shown, masked here to its first and last 4 characters. The secret access key and session token are never kept.
"""

from __future__ import annotations

import os
import re

MAX_SYMLINKS = 8
MAX_FILE_BYTES = 1024 * 1024  # a credentials file, unit file or environ is far smaller; never read a huge file
MAX_COMMAND = 120

_KEY_ID = re.compile(r"\b(AKIA|ASIA|AIDA|AROA)[A-Z0-9]{12,124}\b")
# a value that looks like a secret access key (40 characters of base64) or a session token (long base64)
_SECRETISH = re.compile(r"[A-Za-z0-9/+=]{32,}")
_SECRET_NAME = re.compile(r"(secret|token|passw|pwd|credential|session|auth|api[_-]?key|private)", re.I)


class Reads:
    """What could not be read during one look: processes (a count) and files (host paths)."""

    def __init__(self):
        self.processes = 0
        self.files = []

    def file(self, path):
        if path not in self.files:
            self.files.append(path)

    def as_dict(self):
        return {"processes": self.processes, "files": sorted(self.files)}


def host_path(root, full):
    """The instance's own name for a path under root ("/host/etc/passwd" -> "/etc/passwd")."""
    root = os.path.abspath(root)
    full = os.path.abspath(full)
    if root == "/":
        return full
    if full == root:
        return "/"
    if full.startswith(root + os.sep):
        return full[len(root):]
    return full


def under(root, path):
    """The location of the instance's `path` under root, following an absolute last-component symlink inside root."""
    rel = path.lstrip("/")
    full = os.path.join(root, rel)
    for _hop in range(MAX_SYMLINKS):
        try:
            if not os.path.islink(full):
                return full
            target = os.readlink(full)
        except OSError:
            return full
        if os.path.isabs(target):
            full = os.path.join(root, target.lstrip("/"))
        else:
            full = os.path.normpath(os.path.join(os.path.dirname(full), target))
    return full


def read_bytes(root, path, reads=None, limit=MAX_FILE_BYTES):
    """The bytes of the instance's file `path`, or None when it does not exist or cannot be read (recorded)."""
    full = under(root, path)
    try:
        with open(full, "rb") as handle:
            return handle.read(limit)
    except (FileNotFoundError, NotADirectoryError, ProcessLookupError):
        return None
    except IsADirectoryError:
        return None
    except OSError:  # EACCES, EPERM, ESRCH of a process that went away, EIO
        if reads is not None and os.path.lexists(full):
            reads.file(path)
        return None


def read_text(root, path, reads=None, limit=MAX_FILE_BYTES):
    data = read_bytes(root, path, reads, limit)
    return None if data is None else data.decode("utf-8", "replace")


def list_dir(root, path, reads=None):
    """Names in the instance's directory `path`; [] when it is missing, recorded when it cannot be read."""
    full = under(root, path)
    try:
        return sorted(os.listdir(full))
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError:
        if reads is not None:
            reads.file(path)
        return []


_KEY_ID_SHAPE = re.compile(r"^[A-Z0-9]{16,128}$")


def mask_key_id(key_id):
    """An access key id reduced to its first and last 4 characters (AKIA...MPLE); shorter ids are hidden entirely."""
    if not key_id:
        return None
    key_id = key_id.strip()
    # only what has the shape of an access key id (IAM: 16-128 characters, upper-case letters and digits) shows
    # its ends: a secret written where an id belongs (swapped values, an INI continuation line) never does
    if not _KEY_ID_SHAPE.match(key_id):
        return "****"
    return "%s...%s" % (key_id[:4], key_id[-4:])


def passwd(root, reads=None):
    """[(user, uid, home)] from the instance's /etc/passwd, root's /root first."""
    users = []
    text = read_text(root, "/etc/passwd", reads)
    for line in (text or "").splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) < 6:
            continue
        try:
            uid = int(parts[2])
        except ValueError:
            continue
        users.append((parts[0], uid, parts[5] or "/"))
    if not any(home == "/root" for _user, _uid, home in users):
        users.insert(0, ("root", 0, "/root"))
    return users


def user_names(users):
    return dict((uid, name) for name, uid, _home in users)


def redact_command(argv, limit=MAX_COMMAND):
    """A process's command line fit to show: secret-looking values replaced by ***, key ids masked, truncated.

    A value is secret-looking when it follows an option or assignment whose name mentions secret/token/password/
    credential/session/auth/key, or when it is a long run of base64 characters (a secret access key is 40)."""
    out = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append("***")
            hide_next = False
            continue
        name, eq, value = arg.partition("=")
        if eq and _SECRET_NAME.search(name):
            out.append(name + "=***")
            continue
        if arg.startswith("-") and _SECRET_NAME.search(arg) and not eq:
            out.append(arg)
            hide_next = True
            continue
        arg = _KEY_ID.sub(lambda m: mask_key_id(m.group(0)), arg)
        arg = _SECRETISH.sub("***", arg)
        out.append(arg)
    text = " ".join(out)
    if len(text) > limit:
        text = text[:limit - 3] + "..."
    return text


def executable_of(command):
    """The program of a credential_process value (its first word), never its arguments."""
    text = (command or "").strip()
    if not text:
        return None
    if text[0] in "\"'":
        end = text.find(text[0], 1)
        first = text[1:end] if end > 0 else text[1:]
    else:
        first = text.split()[0]
    return redact_command([first])
