# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action keyless.aws.report_files: write text files on the controller, in the controller's own process.

Contract: every file of `files` is written under `dir` (created if missing) with `mode`, atomically
(a temporary file in the same directory, then rename), and only when its content differs; the result says
which files changed. No module runs: the copy and template actions cost two module processes (stat, then
copy) per file, about 0.3 s of CPU each, which for the role's reports was a third of a converged target's
run, and what hundreds of targets of an organization run at once pay together. Check mode writes nothing
unless the task says check_mode: false (the role's reports are artifacts, written under --check too).
Paths are checked before anything is written: plain file names, no directories, no "..". A text file
ends with a newline: one is added to content that has none.
"""

from __future__ import annotations

import os
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible.plugins.action import ActionBase


def _mode(value):
    if value is None:
        return 0o644
    try:
        mode = int(str(value), 8)
    except ValueError:
        raise AnsibleActionFail("mode=%r is not an octal file mode such as '0644'" % (value,))
    if not 0 <= mode <= 0o7777:
        raise AnsibleActionFail("mode=%r is not an octal file mode such as '0644'" % (value,))
    return mode


def _files(value):
    if not isinstance(value, dict) or not value:
        raise AnsibleActionFail("files must be a non-empty mapping of file name -> text content")
    out = []
    for name, content in value.items():
        name = to_text(name)
        if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
            raise AnsibleActionFail("files: %r is not a plain file name (no directory, no '..'); put the directory in dir"
                                    % (name,))
        if content is None:
            raise AnsibleActionFail("files: %s has no content" % name)
        content = to_text(content)
        out.append((name, content if content.endswith("\n") or not content else content + "\n"))
    return out


def _differs(path, data, mode):
    try:
        with open(path, "rb") as handle:
            return handle.read() != data or (os.stat(path).st_mode & 0o7777) != mode
    except FileNotFoundError:
        return True


def _write(path, data, mode):
    """True if the file was (re)written."""
    if not _differs(path, data, mode):
        return False
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".keyless-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("dir", "files", "mode"))
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        directory = args.get("dir")
        if not directory:
            raise AnsibleActionFail("dir is required: the directory on the controller to write the files in")
        directory = os.path.abspath(os.path.expanduser(to_native(directory)))
        files = _files(args.get("files"))
        mode = _mode(args.get("mode"))
        paths = [os.path.join(directory, name) for name, _content in files]
        if self._task.check_mode:
            differ = [path for path, (name, content) in zip(paths, files) if _differs(path, to_bytes(content), mode)]
            result.update(changed=bool(differ), dir=directory, files=paths, written=[])
            return result
        try:
            os.makedirs(directory, exist_ok=True)
            written = [path for path, (name, content) in zip(paths, files) if _write(path, to_bytes(content), mode)]
        except OSError as exc:
            raise AnsibleActionFail("cannot write in %s: %s" % (directory, to_native(exc)))
        result.update(changed=bool(written), dir=directory, files=paths, written=written)
        return result
