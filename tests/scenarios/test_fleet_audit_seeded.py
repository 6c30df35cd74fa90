"""The ec2_identity role's audit entry point on a seeded mixed fleet, one role of which can escalate.

The report (JSON and Markdown) must list the role that can escalate, with the instances that use it and
why, and count the finding; the run must be read-only. Every count is derived from what the seeding
created (tests/support/fleet_seed.py). ec2_fleet_info itself is tested by the integration target
tests/integration/targets/ec2_fleet_info/.
"""

from __future__ import annotations

import json

import boto3
import pytest

from tests.support.aws_env import FAKE_ACCESS_KEY, FAKE_SECRET_KEY
from tests.support.fleet_seed import seed_fleet
from tests.support.moto_server import MotoServer, calls, reset_moto
from tests.support.playbook import run_playbook

COUNT = 100  # a mixed fleet with every kind the report tells apart (other profile, IMDSv1 callers ...)
CORRECT = "AppProfile"
# The other profile's role can make itself admin: it may pass any role to EC2 (Rhino Security Labs method 3).
ESCALATING_ROLE = "LegacyProfileRole"
LAUNCHER = {"Version": "2012-10-17", "Statement": [
    {"Sid": "LaunchAnything", "Effect": "Allow", "Action": ["ec2:RunInstances", "iam:PassRole"], "Resource": "*"}]}
SHARED_READ = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::app-config/*"}]}


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
