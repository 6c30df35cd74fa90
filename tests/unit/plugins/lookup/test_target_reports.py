"""keyless.aws.target_reports: the target reports of one or more directories, one per target (the newest, with a
warning naming both files), reduced to what the run summary reads; other JSON files ignored, a file that is not
JSON skipped with a warning naming it; a missing directory or no report at all is an error naming them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from ansible.errors import AnsibleLookupError

from ansible_collections.keyless.aws.plugins.lookup import target_reports
from ansible_collections.keyless.aws.plugins.lookup.target_reports import _directories, reports_of
from tests.support.aws_env import ROOT, ensure_collection_link


def converge(target, generated_at="2026-12-07T10:00:00Z", error=None, result=True, kind="converge"):
    return {"kind": kind, "generated_at": generated_at, "target": target, "account_id": "111122223333",
            "account_name": "prod", "region": "us-east-1", "error": error,
            "result": {"region": "us-east-1", "counts": {"total": 2, "selected": 2, "changed": 1},
                       "compliance": {"after": {"total": 2, "compliant": 2, "non_compliant": 0, "non_compliant_instances": []}},
                       "held": [{"instance_id": "i-1"}], "batches": [{"instances": 2}],
                       "report": {"json": "/x/%s.json" % target, "markdown": "/x/%s.md" % target}} if result else None,
            "instances": [{"instance_id": "i-%d" % n} for n in range(50)],
            "non_compliant": {"before": [], "after": []}}


def write(directory, name, data):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(data if isinstance(data, str) else json.dumps(data))


@pytest.fixture
def warnings(monkeypatch):
    said = []
    monkeypatch.setattr(target_reports.display, "warning", said.append)
    return said


def test_reports_of_two_directories_reduced_and_sorted(tmp_path, warnings):
    one, two = tmp_path / "slice1", tmp_path / "slice2"
    write(one, "b-us-east-1-App.json", converge("b-us-east-1"))
    write(one, "b-us-east-1-App-audit.json", converge("b-us-east-1", kind="audit"))
    write(two, "a-us-east-1-App.json", converge("a-us-east-1", error="AssumeRole failed: AccessDenied", result=False))
    # not target reports: the run summary, a suggested policy, a report without kind, a file that is not JSON
    write(one, "summary.json", {"kind": "converge", "targets": [], "totals": {}})
    write(two, "b-us-east-1-App-suggested-policy.json", {"Version": "2012-10-17", "Statement": []})
    write(two, "old.json", {"target": "x", "result": {}})
    write(two, "broken.json", "{not json")
    write(two, "notes.md", "# not JSON and not .json\n")
    got = reports_of(_directories([str(one), [str(two)]]), "converge")
    assert [r["target"] for r in got] == ["a-us-east-1", "b-us-east-1"]
    failed, ok = got
    assert failed["result"] is None and failed["error"] == "AssumeRole failed: AccessDenied"
    assert set(ok) == {"kind", "target", "account_id", "account_name", "region", "error", "generated_at", "path", "result"}
    assert ok["path"] == str(one / "b-us-east-1-App.json") and ok["kind"] == "converge"
    # what the summary reads, never the per-instance lists
    assert "held" not in ok["result"] and "batches" not in ok["result"]
    assert ok["result"]["compliance"] == {"after": {"total": 2, "compliant": 2, "non_compliant": 0}}
    assert warnings == ["target_reports: skipped %s: not a JSON file (Expecting property name enclosed in double quotes: "
                        "line 1 column 2 (char 1))" % (two / "broken.json")]
    audit = reports_of(_directories([str(one), str(two)]), "audit")
    assert [(r["kind"], r["target"]) for r in audit] == [("audit", "b-us-east-1")]


def test_a_target_found_twice_keeps_the_newest_and_warns(tmp_path, warnings):
    one, two, three = tmp_path / "one", tmp_path / "two", tmp_path / "three"
    write(one, "a.json", converge("a", generated_at="2026-12-07T11:00:00Z"))
    write(two, "a.json", converge("a", generated_at="2026-12-07T10:00:00Z", error="boom"))
    got = reports_of(_directories([str(one), str(two)]), "converge")
    assert len(got) == 1 and got[0]["path"] == str(one / "a.json") and got[0]["error"] is None
    assert len(warnings) == 1 and str(one / "a.json") in warnings[0] and str(two / "a.json") in warnings[0]
    assert "keeping the newest, %s" % (one / "a.json") in warnings[0]
    # on a tie, the later directory given
    write(three, "a.json", converge("a", generated_at="2026-12-07T11:00:00Z"))
    assert reports_of(_directories([str(one), str(three)]), "converge")[0]["path"] == str(three / "a.json")


def test_a_directory_given_twice_is_read_once(tmp_path, warnings):
    write(tmp_path / "r", "a.json", converge("a"))
    assert len(reports_of(_directories([str(tmp_path / "r"), str(tmp_path / "r") + "/"]), "converge")) == 1
    assert warnings == []


def test_errors_name_the_directory_and_what_is_expected(tmp_path):
    with pytest.raises(AnsibleLookupError, match="the report directory %s does not exist" % (tmp_path / "nope")):
        _directories([str(tmp_path / "nope")])
    (tmp_path / "file").write_text("x")
    with pytest.raises(AnsibleLookupError, match="is not a directory"):
        _directories([str(tmp_path / "file")])
    with pytest.raises(AnsibleLookupError, match="no directory given"):
        _directories([])
    with pytest.raises(AnsibleLookupError, match="must be a non-empty path"):
        _directories([""])
    write(tmp_path / "empty", "summary.json", {"kind": "converge"})
    with pytest.raises(AnsibleLookupError, match="no audit report in %s" % (tmp_path / "empty")):
        reports_of(_directories([str(tmp_path / "empty")]), "audit")


def test_query_in_a_play(tmp_path):
    """Through ansible-playbook, as keyless.aws.summarize runs it: query with a list of directories and kind."""
    write(tmp_path / "r", "a.json", converge("a"))
    write(tmp_path / "r", "a-audit.json", converge("a", kind="audit"))
    playbook = tmp_path / "play.yml"
    playbook.write_text("""
- hosts: localhost
  gather_facts: false
  tasks:
    - keyless.aws.report_files:
        dir: "{{ out }}"
        files: {out.json: "{{ query('keyless.aws.target_reports', [dir], kind='audit') | to_json }}"}
    - ansible.builtin.debug:
        msg: "{{ query('keyless.aws.target_reports', dir, kind='plan') }}"
""")
    out = tmp_path / "out"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ensure_collection_link()))
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), str(playbook), "-i", "localhost,",
                           "-c", "local", "-e", json.dumps({"dir": str(tmp_path / "r"), "out": str(out)})],
                          cwd=str(ROOT), env=env, capture_output=True, text=True, check=False)
    assert (out / "out.json").exists(), proc.stdout + proc.stderr
    got = json.loads((out / "out.json").read_text())
    assert [(r["kind"], r["target"]) for r in got] == [("audit", "a")]
    assert proc.returncode != 0 and "plan" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
