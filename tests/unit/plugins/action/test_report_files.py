"""keyless.aws.report_files through ansible-playbook (as the role runs it): writes atomically, rewrites only what
changed, honours check mode unless the task opts out, refuses names with a directory before writing anything."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

from tests.support.aws_env import ROOT, ensure_collection_link

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: First write
      keyless.aws.report_files:
        dir: "{{ out }}/nested/dir"
        files: {a.json: "{{ {'n': 1} | to_nice_json }}", b.md: "# B\\n"}
      check_mode: false
      register: first
    - name: Same content again
      keyless.aws.report_files:
        dir: "{{ out }}/nested/dir"
        files: {a.json: "{{ {'n': 1} | to_nice_json }}", b.md: "# B\\n"}
        mode: "0644"
      check_mode: false
      register: second
    - name: One file changes, in check mode (the playbook runs with --check)
      keyless.aws.report_files:
        dir: "{{ out }}/nested/dir"
        files: {b.md: "# B2\\n"}
      register: checked
    - name: One file changes, check mode lifted as the role does for its reports
      keyless.aws.report_files:
        dir: "{{ out }}/nested/dir"
        files: {b.md: "# B2\\n"}
        mode: "0600"
      check_mode: false
      register: lifted
    - name: A name with a directory is refused
      keyless.aws.report_files:
        dir: "{{ out }}"
        files: {"../escape.md": "x"}
      register: refused
      ignore_errors: true
    - name: The results
      ansible.builtin.assert:
        that:
          - first is changed and first.written | length == 2
          - first.files == [out ~ '/nested/dir/a.json', out ~ '/nested/dir/b.md']
          - second is not changed and second.written == []
          - checked is changed and checked.written == []
          - lifted is changed and lifted.written == [out ~ '/nested/dir/b.md']
          - refused is failed and 'not a plain file name' in refused.msg
"""


def run(tmp_path, *args):
    ensure_collection_link()
    book = tmp_path / "play.yml"
    book.write_text(PLAYBOOK)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build" / "collections"), ANSIBLE_NOCOLOR="1")
    cmd = [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), str(book), "-i", "localhost,", "-c", "local",
           "-e", "out=%s" % tmp_path] + list(args)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=300)


def test_report_files(tmp_path):
    proc = run(tmp_path, "--check")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    out = tmp_path / "nested" / "dir"
    assert (out / "a.json").read_text() == '{\n    "n": 1\n}\n'  # a text file ends with a newline
    assert not (tmp_path / "escape.md").exists()
    assert sorted(p.name for p in out.iterdir()) == ["a.json", "b.md"]  # no temporary file left behind
    # under --check, the task in check mode wrote nothing; the one with check_mode: false wrote, with its mode
    assert (out / "b.md").read_text() == "# B2\n"
    assert oct(os.stat(out / "b.md").st_mode & 0o777) == "0o600"
