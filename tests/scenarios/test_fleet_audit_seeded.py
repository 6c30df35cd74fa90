"""ec2_fleet_info through ansible-playbook against the moto server with a seeded mixed fleet.

Every count is derived from what the seeding created (tests/support/fleet_seed.py), and each row is
compared with the ground truth read straight from EC2 (fleet_state), not with the module's own report.
The run must be read-only (zero mutating calls at the server) and cost a bounded number of calls.
"""

from __future__ import annotations

import json
import math

import boto3
import pytest

from tests.support.aws_env import FAKE_ACCESS_KEY, FAKE_SECRET_KEY
from tests.support.fleet_seed import fleet_state, seed_fleet
from tests.support.moto_server import MotoServer, calls, reset_moto
from tests.support.playbook import run_playbook

COUNT = 400
CORRECT = "AppProfile"
# The other profile's role can make itself admin: it may pass any role to EC2 (Rhino Security Labs method 3).
ESCALATING_ROLE = "LegacyProfileRole"
LAUNCHER = {"Version": "2012-10-17", "Statement": [
    {"Sid": "LaunchAnything", "Effect": "Allow", "Action": ["ec2:RunInstances", "iam:PassRole"], "Resource": "*"}]}
SHARED_READ = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::app-config/*"}]}

PLAYBOOK = """
- name: Audit the seeded fleet
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Audit against the documented setup
      keyless.aws.ec2_fleet_info:
        tags: {Fleet: app}
        expected:
          instance_profile: %(correct)s
          http_tokens: required
        imdsv1_usage: true
      register: audit
    - name: Audit the hop limit only
      keyless.aws.ec2_fleet_info:
        tags: {Fleet: app}
        expected:
          min_hop_limit: 2
        check_role_escalation: false
      register: hops
    - name: Keep the results for the test
      ansible.builtin.copy:
        content: "{{ {'audit': audit, 'hops': hops} | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
""" % {"correct": CORRECT}


class _Server:
    def __init__(self, url):
        self.url = url

    def calls(self, reset=False):
        return calls(self.url, reset=reset)


@pytest.fixture(scope="module")
def moto():
    """A moto server of this module's own, seeded once: every test here only reads (and checks that it
    did), and xdist may interleave other files' tests, which reset the shared server."""
    with MotoServer() as server:
        yield _Server(server.url)


@pytest.fixture(scope="module")
def seeded(moto):
    # moto's backends are global to the process: a fleet left by an earlier test file in this xdist
    # worker (same Fleet tag, other server) would be selected too, so start from an empty account.
    reset_moto(moto.url)
    fleet = seed_fleet(moto.url, COUNT, correct_profile=CORRECT, control_group=5, seed=7)
    assert fleet["imdsv1_callers"], "the seed should create IMDSv1 callers"
    iam = boto3.client("iam", region_name="us-east-1", endpoint_url=moto.url, aws_access_key_id=FAKE_ACCESS_KEY,
                       aws_secret_access_key=FAKE_SECRET_KEY)
    iam.put_role_policy(RoleName=ESCALATING_ROLE, PolicyName="launcher", PolicyDocument=json.dumps(LAUNCHER))
    shared = iam.create_policy(PolicyName="shared-read", PolicyDocument=json.dumps(SHARED_READ))["Policy"]["Arn"]
    for role in (ESCALATING_ROLE, CORRECT + "Role"):
        iam.attach_role_policy(RoleName=role, PolicyArn=shared)
    fleet["shared_policy"] = shared
    return fleet


def test_audit_counts_match_the_seeded_fleet(moto, seeded, tmp_path):
    out = tmp_path / "audit.json"
    moto.calls(reset=True)
    result = run_playbook(PLAYBOOK, moto.url, extra_vars={"out": str(out)})
    assert result.rc == 0, result
    calls = moto.calls()
    data = json.loads(out.read_text())
    audit, hops = data["audit"], data["hops"]

    selected = set(seeded["running"]) | set(seeded["stopped"])
    terminated = set(seeded["terminated"])
    optional = set(seeded["optional"]) | set(seeded["hop_limit_2"])
    correct = set(seeded["correct_profile"])
    callers = set(seeded["imdsv1_callers"])
    rows = dict((r["instance_id"], r) for r in audit["instances"])

    # selection: every running/stopped fleet instance, no control-group instance, terminated ones skipped
    assert set(rows) == selected
    assert not set(rows) & set(seeded["control_group"])
    assert set(s["instance_id"] for s in audit["skipped"]) == terminated
    assert all(s["reason"] == "instance is terminated" for s in audit["skipped"])

    expected_findings = {
        "no_profile": len(set(seeded["no_profile"]) & selected),
        "wrong_profile": len(set(seeded["other_profile"]) & selected),
        "role_can_escalate": len(set(seeded["other_profile"]) & selected),
        "imdsv1_allowed": len(optional & selected),
        "imdsv1_in_use": len(callers),
    }
    compliant = (correct & set(seeded["required_already"]) & selected) - callers
    summary = audit["summary"]
    assert summary["total"] == len(selected)
    assert summary["by_state"] == {"running": len(seeded["running"]), "stopped": len(seeded["stopped"])}
    assert summary["by_finding"] == dict((k, v) for k, v in expected_findings.items() if v)
    assert summary["compliant"] == len(compliant) and summary["non_compliant"] == len(selected) - len(compliant)
    assert summary["skipped"] == len(terminated) and summary["missing"] == 0
    assert set(i for i, r in rows.items() if r["compliant"]) == compliant

    # IMDSv1 usage: the seeded MetadataNoToken sums, and zero for everyone else
    for iid, row in rows.items():
        assert row["imdsv1_calls"] == seeded["imdsv1_counts"].get(iid, 0), iid
        assert ("imdsv1_in_use" in row["findings"]) is (iid in callers)

    # every row agrees with the ground truth read directly from EC2
    truth = fleet_state(moto.url, list(rows))
    roles = {CORRECT: CORRECT + "Role", "LegacyProfile": "LegacyProfileRole"}
    for iid, row in rows.items():
        t = truth[iid]
        assert row["state"] == t["state"]
        assert row["instance_profile_arn"] == t["profile_arn"]
        if t["profile_arn"]:
            name = t["profile_arn"].rsplit("/", 1)[-1]
            assert row["instance_profile_name"] == name and row["role_name"] == roles[name]
        else:
            assert row["instance_profile_name"] is None and row["role_name"] is None
        assert row["metadata_options"]["http_tokens"] == t["metadata"]["HttpTokens"]
        assert row["metadata_options"]["http_put_response_hop_limit"] == t["metadata"]["HttpPutResponseHopLimit"]
        assert row["metadata_options"]["http_endpoint"] == t["metadata"]["HttpEndpoint"]
        assert row["name"].startswith("app-")
        assert ("role_can_escalate" in row["findings"]) is (row["role_name"] == ESCALATING_ROLE), iid

    # the roles: judged once each, with the instances that use them and why one can escalate
    roles = dict((r["role_name"], r) for r in audit["roles"])
    assert sorted(roles) == [CORRECT + "Role", ESCALATING_ROLE]
    assert roles[ESCALATING_ROLE]["instances"] == len(set(seeded["other_profile"]) & selected)
    assert roles[CORRECT + "Role"]["instances"] == len(correct & selected)
    assert not roles[CORRECT + "Role"]["can_escalate"] and roles[ESCALATING_ROLE]["can_escalate"]
    [why] = roles[ESCALATING_ROLE]["escalations"]
    assert why["policy"] == "inline launcher" and why["statement"] == "LaunchAnything"
    assert '"PassRole to a service that runs code"' in why["message"]
    assert roles[ESCALATING_ROLE]["policies"] == ["inline launcher", seeded["shared_policy"]]
    assert hops["roles"] == [] and "role_can_escalate" not in hops["summary"]["by_finding"]

    # the hop-limit audit: exactly the hop-1 instances (optional and required_already variants)
    hop1 = (set(seeded["optional"]) | set(seeded["required_already"])) & selected
    assert hops["summary"]["by_finding"] == {"hop_limit_below_minimum": len(hop1)}
    assert set(r["instance_id"] for r in hops["instances"] if not r["compliant"]) == hop1

    # read-only, and a bounded number of calls for the two audits together
    assert calls["mutating"] == 0, calls
    counts = calls["counts"]
    pages = math.ceil((COUNT + 5) / 1000)
    # against a non-AWS endpoint the first page is a small probe (moto counts MaxResults in reservations)
    assert counts.get("ec2:DescribeInstances", 0) <= 2 * (pages + 1), counts
    # association lookups are chunked at 200 instance ids (EC2's filter limit); moto pages them at 100
    assert counts.get("ec2:DescribeIamInstanceProfileAssociations", 0) <= 2 * math.ceil(len(selected) / 100), counts
    # one GetInstanceProfile per distinct profile per task, never one per instance
    assert counts.get("iam:GetInstanceProfile", 0) == 2 * 2, counts
    # the first task reads each distinct role's policies once (two roles), and the managed policy both roles share
    # once; the second task does not check roles
    assert counts.get("iam:ListRolePolicies", 0) == 2 and counts.get("iam:ListAttachedRolePolicies", 0) == 2, counts
    assert counts.get("iam:GetRolePolicy", 0) == 1, counts
    assert counts.get("iam:GetPolicy", 0) == 1 and counts.get("iam:GetPolicyVersion", 0) == 1, counts
    assert counts.get("monitoring:GetMetricData", 0) <= math.ceil(len(selected) / 500), counts
    assert calls["total"] <= 40, calls


def test_check_mode_and_fail_on_findings(moto, seeded):
    playbook = """
- name: Gate on compliance
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Fail when the fleet is not compliant
      keyless.aws.ec2_fleet_info:
        tags: {Fleet: app}
        expected: {instance_profile: %s}
        fail_on_findings: true
""" % CORRECT
    moto.calls(reset=True)
    result = run_playbook(playbook, moto.url, check=True)
    assert result.rc != 0 and result.failed == 1
    non_compliant = len((set(seeded["no_profile"]) | set(seeded["other_profile"])))
    assert "%d of %d instances are not compliant" % (
        non_compliant, len(seeded["running"]) + len(seeded["stopped"])) in result.stdout
    assert moto.calls()["mutating"] == 0


AUDIT_REPORT = """
- name: The role's audit entry point on the seeded fleet
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Audit and write the report
      ansible.builtin.include_role:
        name: keyless.aws.ec2_identity
        tasks_from: audit
      vars:
        ec2_identity_role_name: %(correct)sRole
        ec2_identity_instance_profile_name: %(correct)s
        ec2_identity_instance_tags: {Fleet: app}
        ec2_identity_audit_imdsv1_usage: false
        ec2_identity_report_dir: "{{ out }}"
        ec2_identity_report_name: seeded
""" % {"correct": CORRECT}


def test_audit_report_lists_the_roles_that_can_escalate(moto, seeded, tmp_path):
    moto.calls(reset=True)
    result = run_playbook(AUDIT_REPORT, moto.url, extra_vars={"out": str(tmp_path)})
    assert result.rc == 0, result
    assert moto.calls()["mutating"] == 0
    selected = set(seeded["running"]) | set(seeded["stopped"])
    escalating = len(set(seeded["other_profile"]) & selected)
    report = json.loads((tmp_path / "seeded-audit.json").read_text())
    [role] = report["result"]["roles_can_escalate"]
    assert role["role_name"] == ESCALATING_ROLE and role["instances"] == escalating
    assert report["result"]["summary"]["by_finding"]["role_can_escalate"] == escalating
    assert sorted(r["role_name"] for r in report["roles"]) == [CORRECT + "Role", ESCALATING_ROLE]
    markdown = (tmp_path / "seeded-audit.md").read_text()
    assert "## Roles that can escalate (1)" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| %s |" % ESCALATING_ROLE))
    assert "| %d | inline launcher | LaunchAnything |" % escalating in row
    assert "'iam:PassRole' on Resource '*'" in row and "allow_admin: true" in row
    assert "| role_can_escalate | %d |" % escalating in markdown
