"""The role's keys step and the audit's keys count (issue 24, item 5): on tests/support/keys_seed.py's account (two
users, three keys, a fleet of 4 instances tagged {Fleet: kk} and a control instance outside it, CloudTrail log files in
a directory), the role names each key used from the fleet with its instances and calls; --check retires nothing; with
ec2_identity_retire_keys the quiet key is deactivated, the recently used one refused with its last use, the key not used
from the fleet left alone; the rerun changes nothing; the run summary and the audit count the keys and instances.

Ground truth comes from the seed and from boto3, never from the role's own reports. Every byte ansible-playbook printed
and every report file is searched for the seeded secret access keys (and the full key ids).
"""

from __future__ import annotations

import datetime
import json

import pytest

from tests.support.keys_seed import assert_no_secret, key_status, seed_keys_with_trail
from tests.support.moto_server import mutating_calls
from tests.support.playbook import run_playbook

pytestmark = pytest.mark.integration

# The role (block/rescue: a failure still leaves its result), then the run summary of this one target, then the audit
# (with its keys count) and its summary; everything saved to out_file.
PLAYBOOK = """
- name: Keys step
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Converge, and on failure still save the result
      block:
        - name: Include the role
          ansible.builtin.include_role:
            name: keyless.aws.ec2_identity
          vars: %(role_vars)s
      rescue:
        - name: Show the failure
          ansible.builtin.debug:
            msg: "ROLE_FAILED {{ ansible_failed_result.msg }}"
    - name: The run summary of this target
      ansible.builtin.include_role:
        name: keyless.aws.ec2_identity
        tasks_from: summary
      vars:
        ec2_identity_summary_targets: [localhost]
        ec2_identity_summary_name: converge-summary
        ec2_identity_report_dir: %(report_dir)s
    - name: Keep the converge summary
      ansible.builtin.set_fact:
        converge_summary: "{{ ec2_identity_run_summary }}"
%(audit)s
    - name: Save what the role set
      ansible.builtin.copy:
        content: >-
          {{ {'result': ec2_identity_result, 'summary': converge_summary,
              'audit': ec2_identity_audit_result | default(none), 'audit_summary': audit_summary | default(none)} | to_json }}
        dest: %(out_file)s
        mode: "0644"
      check_mode: false
      changed_when: false
"""

AUDIT = """
    - name: Audit with the keys count
      ansible.builtin.include_role:
        name: keyless.aws.ec2_identity
        tasks_from: audit
      vars: %(audit_vars)s
    - name: The audit summary
      ansible.builtin.include_role:
        name: keyless.aws.ec2_identity
        tasks_from: summary
      vars:
        ec2_identity_summary_targets: [localhost]
        ec2_identity_summary_kind: audit
        ec2_identity_summary_name: audit-summary
        ec2_identity_report_dir: %(report_dir)s
    - name: Keep the audit summary
      ansible.builtin.set_fact:
        audit_summary: "{{ ec2_identity_run_summary }}"
"""


@pytest.fixture
def seeded(moto, tmp_path):
    return seed_keys_with_trail(moto.url, tmp_path)


def role_vars(seeded, tmp_path, **extra):
    return dict({
        "ec2_identity_role_name": "KeysApp",
        "ec2_identity_instance_tags": seeded["tag"],
        "ec2_identity_report_dir": str(tmp_path / "reports"),
        "ec2_identity_keys_report": True,
        "ec2_identity_activity_source": "local",
        "ec2_identity_activity_local_path": seeded["trail"],
        "ec2_identity_activity_days": 60,
    }, **extra)


def since(seeded, days):
    return (seeded["now"] - datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def run(moto, tmp_path, seeded, label, check=False, audit=False, **extra):
    out = tmp_path / ("%s.json" % label)
    report_dir = tmp_path / "reports"
    audit_text = AUDIT % {"audit_vars": json.dumps({
        "ec2_identity_instance_tags": seeded["tag"], "ec2_identity_report_dir": str(report_dir),
        "ec2_identity_audit_keys": True, "ec2_identity_activity_source": "local",
        "ec2_identity_activity_local_path": seeded["trail"], "ec2_identity_activity_days": 60,
        "ec2_identity_audit_imdsv1_usage": False}), "report_dir": report_dir} if audit else ""
    play = PLAYBOOK % {"role_vars": json.dumps(role_vars(seeded, tmp_path, **extra)), "report_dir": report_dir,
                       "out_file": out, "audit": audit_text}
    result = run_playbook(play, moto.url, check=check)
    assert result.rc == 0 and result.failed == 0, result
    saved = json.loads(out.read_text())
    files = {p.name: p.read_text() for p in report_dir.iterdir() if p.is_file()}
    return result, saved, files


def status(moto, seeded, name):
    return key_status(moto.client("iam"), seeded, name)


def statuses(moto, seeded):
    return {name: status(moto, seeded, name) for name in ("recent", "stale", "quiet")}


def expected_used(seeded):
    """{masked id: {instance: calls}} of the keys used from the fleet, from the seed."""
    return {seeded["keys"][name]["masked"]: calls for name, calls in seeded["expected"].items() if calls}


def test_the_keys_step_names_each_key_used_from_the_fleet_and_the_summaries_count_them(moto, seeded, tmp_path):
    result, saved, files = run(moto, tmp_path, seeded, "report", audit=True)
    keys = saved["result"]["keys"]
    assert keys is not None and keys["retire"] is False
    used = {u["access_key_id"]: u for u in keys["used_from_fleet"]}
    want = expected_used(seeded)
    assert {k: {f["instance_id"]: f["calls"] for f in u["used_from"]} for k, u in used.items()} == want
    for masked, by_instance in want.items():
        assert sorted(used[masked]["instances"]) == sorted(by_instance), used[masked]
        assert used[masked]["calls"] == sum(by_instance.values())
    recent, quiet = seeded["keys"]["recent"], seeded["keys"]["quiet"]
    assert used[recent["masked"]]["user"] == recent["user"] and used[quiet["masked"]]["user"] == quiet["user"]
    assert used[recent["masked"]]["outside_fleet_calls"] == 7  # the calls from 203.0.113.7
    assert used[recent["masked"]]["actions"] == ["s3:GetObject", "sqs:ReceiveMessage"]
    a0, a1, a2, a3 = seeded["instances"]
    assert sorted(keys["instances_with_keys"]) == sorted([a0, a1, a2])  # a3 only has its role's calls
    assert seeded["control"] not in keys["instances_with_keys"]  # outside the selector
    assert {k["access_key_id"] for k in keys["keys"]} == {k["masked"] for k in seeded["keys"].values()}
    assert keys["retired"] == [] and keys["refused"] == [] and keys["failed"] == []
    assert statuses(moto, seeded) == {"recent": "Active", "stale": "Active", "quiet": "Active"}  # read-only

    # the report's section, and the run summary's counts (per target and totals, Markdown and HTML columns)
    report = files["localhost-KeysApp.md"]
    section = report.split("## Access keys used from the fleet (2)", 1)[1]
    for masked, by_instance in want.items():
        row = [line for line in section.splitlines() if masked in line][0]
        assert all("%s (%d)" % (i, n) in row for i, n in by_instance.items()), row
    target = saved["summary"]["targets"][0]
    assert (target["keys_used"], target["instances_with_keys"]) == (2, 3)
    assert (saved["summary"]["totals"]["keys_used"], saved["summary"]["totals"]["instances_with_keys"]) == (2, 3)
    assert "| instances with keys | keys used |" in files["converge-summary.md"]
    assert "| 3 | 2 |" in files["converge-summary.md"]
    assert "<th>instances with keys</th><th>keys used</th>" in files["converge-summary.html"]

    # the audit counts them too
    audit = saved["audit"]["keys"]
    assert {u["access_key_id"]: sorted(u["instances"]) for u in audit["used_from_fleet"]} == \
        {k: sorted(v) for k, v in want.items()}
    assert sorted(audit["instances_with_keys"]) == sorted([a0, a1, a2])
    assert (saved["audit_summary"]["totals"]["keys_used"], saved["audit_summary"]["totals"]["instances_with_keys"]) == (2, 3)
    assert "## Access keys used from the fleet (2 keys, 3 instances)" in files["localhost-fleet-audit.md"]
    assert_no_secret(seeded, result.stdout, result.stderr, *files.values())


def test_retire_deactivates_the_quiet_key_refuses_the_recent_one_and_reruns_clean(moto, seeded, tmp_path):
    retire = {"ec2_identity_retire_keys": True, "ec2_identity_keys_since": since(seeded, 30),
              "ec2_identity_keys_quiet_days": 30}
    recent, quiet = seeded["keys"]["recent"], seeded["keys"]["quiet"]

    moto.reset_calls()
    check, predicted, check_files = run(moto, tmp_path, seeded, "check", check=True, **retire)
    assert mutating_calls(moto.calls()) == {}, moto.calls()
    assert statuses(moto, seeded) == {"recent": "Active", "stale": "Active", "quiet": "Active"}
    keys = predicted["result"]["keys"]
    assert predicted["result"]["check_mode"] is True
    assert [(r["access_key_id"], r["before"], r["after"]) for r in keys["retired"]] == [(quiet["masked"], "Active", "Inactive")]
    assert [r["access_key_id"] for r in keys["refused"]] == [recent["masked"]]
    # the role fails at the end (ec2_identity_keys_fail_on_refused defaults to true), naming the key and its last use
    assert "ROLE_FAILED 1 access key(s) used from the fleet are still in use" in check.stdout, check
    assert "would be" in check_files["localhost-KeysApp.md"].split("### Retired", 1)[1].split("###", 1)[0]

    first, out, files = run(moto, tmp_path, seeded, "retire", **retire)
    assert statuses(moto, seeded) == {"recent": "Active", "stale": "Active", "quiet": "Inactive"}
    keys = out["result"]["keys"]
    assert [(r["user"], r["access_key_id"], r["after"]) for r in keys["retired"]] == [(quiet["user"], quiet["masked"], "Inactive")]
    assert keys["failed"] == []
    [refused] = keys["refused"]
    assert refused["access_key_id"] == recent["masked"] and refused["user"] == recent["user"]
    # its last use: GetAccessKeyLastUsed a day ago (s3, us-east-1)
    last_used = recent["last_used"].strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "last used %s (s3, us-east-1)" % last_used in refused["reason"], refused
    assert "refusing to deactivate it" in refused["reason"]
    assert "ROLE_FAILED" in first.stdout and recent["masked"] in first.stdout
    report = files["localhost-KeysApp.md"]
    assert "### Refused: still in use (1)" in report and last_used in report
    assert "### Retired (1)" in report
    stale_tags = moto.client("iam").list_user_tags(UserName=quiet["user"])["Tags"]
    assert "keyless:key-inactive:%s" % quiet["masked"] in {t["Key"] for t in stale_tags}

    # the rerun (refusals only reported): nothing changes, the quiet key stays Inactive, the recent one is refused again
    second, again, files2 = run(moto, tmp_path, seeded, "rerun", ec2_identity_keys_fail_on_refused=False, **retire)
    assert second.changed == 0, second
    assert "ROLE_FAILED" not in second.stdout
    keys = again["result"]["keys"]
    assert keys["retired"] == [] and [r["access_key_id"] for r in keys["refused"]] == [recent["masked"]]
    assert {u["access_key_id"]: u["status"] for u in keys["used_from_fleet"]} == {recent["masked"]: "Active",
                                                                                  quiet["masked"]: "Inactive"}
    assert statuses(moto, seeded) == {"recent": "Active", "stale": "Active", "quiet": "Inactive"}
    assert_no_secret(seeded, check.stdout, check.stderr, first.stdout, first.stderr, second.stdout, second.stderr,
                     *check_files.values(), *files.values(), *files2.values())


@pytest.mark.parametrize("extra, fragments", [
    ({"ec2_identity_retire_keys": True},
     ["ec2_identity_retire_keys=true needs ec2_identity_keys_since"]),
    ({"ec2_identity_retire_keys": True, "ec2_identity_keys_since": "last tuesday", "ec2_identity_keys_quiet_days": 5000},
     ["last tuesday", "is not a time: use ISO 8601", "ec2_identity_keys_quiet_days=5000 is out of range"]),
    ({"ec2_identity_retire_keys": True, "ec2_identity_keys_since": "2999-01-01T00:00:00Z"},
     ["ec2_identity_keys_since=2999-01-01T00:00:00+00:00 is in the future"]),
    ({"ec2_identity_retire_keys": True, "ec2_identity_keys_since": "2020-01-01T00:00:00Z",
      "ec2_identity_activity_source": "lookup_events", "ec2_identity_activity_local_path": None},
     ["is more than 90 days ago: LookupEvents keeps 90 days"]),
    ({"ec2_identity_keys_report": False, "ec2_identity_retire_keys": True, "ec2_identity_keys_since": "2026-01-01T00:00:00Z"},
     ["ec2_identity_retire_keys=true needs ec2_identity_keys_report=true"]),
    ({"ec2_identity_activity_local_path": None}, ["ec2_identity_activity_source=local needs ec2_identity_activity_local_path"]),
])
def test_bad_keys_input_fails_before_any_call(moto, tmp_path, extra, fragments):
    vars_ = dict({"ec2_identity_role_name": "KeysApp", "ec2_identity_instance_tags": {"Fleet": "kk"},
                  "ec2_identity_report_dir": str(tmp_path / "reports"), "ec2_identity_keys_report": True,
                  "ec2_identity_activity_source": "local", "ec2_identity_activity_local_path": str(tmp_path)}, **extra)
    play = """
- name: Bad input
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Include the role
      ansible.builtin.include_role:
        name: keyless.aws.ec2_identity
      vars: %s
""" % json.dumps(vars_)
    moto.reset_calls()
    res = run_playbook(play, moto.url)
    assert res.rc != 0, res
    assert moto.calls()["total"] == 0, moto.calls()
    for fragment in fragments:
        assert fragment in res.stdout, (fragment, res)
