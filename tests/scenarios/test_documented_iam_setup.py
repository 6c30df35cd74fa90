"""The documented IAM setup, run with real ansible-playbook against the moto server.

One test walks the whole life cycle, because each step starts from the state the previous one left:
--check --diff on an empty account (nothing created, ARNs returned), first run (changed), second run
(changed=0 for every task and zero mutating API calls), --diff of a change, absent (profile, then
role) and absent again. The final AWS state is asserted with boto3, not with the modules' reports.
"""

from __future__ import annotations

import json
import pathlib
import re

import pytest

from tests.support.playbook import run_playbook

pytestmark = pytest.mark.integration

PLAYBOOK = pathlib.Path(__file__).parent / "playbooks" / "documented_iam_setup.yml"
CLOUDWATCH = "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"
ROLE_ARN = "arn:aws:iam::123456789012:role/MyAppRole"
PROFILE_ARN = "arn:aws:iam::123456789012:instance-profile/MyAppProfile"
TASKS = ("Role MyAppRole", "Instance profile MyAppProfile")
APP_ACCESS = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "S3Access", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
         "Resource": ["arn:aws:s3:::my-app-data", "arn:aws:s3:::my-app-data/*"]},
        {"Sid": "SQSAccess", "Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"],
         "Resource": "arn:aws:sqs:us-east-1:123456789012:my-app-queue"},
        {"Sid": "SecretsManagerAccess", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         "Resource": "arn:aws:secretsmanager:us-east-1:123456789012:secret:my-app/*"},
    ],
}
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def task_status(stdout, task_prefix):
    """'ok' / 'changed' / 'failed' ... of the first task whose name starts with task_prefix."""
    match = re.search(r"TASK \[%s[^\]]*\][^\n]*\n(?:[^\n]*\n)*?(ok|changed|failed|fatal|skipping):" % re.escape(task_prefix),
                      stdout)
    assert match, "task %r not found in output:\n%s" % (task_prefix, stdout[-4000:])
    return match.group(1)


def reported_arns(stdout):
    match = re.search(r"documented_iam_arns role=(\S+) profile=(\S+?)\"?$", stdout, re.M)
    assert match, stdout[-4000:]
    return match.group(1), match.group(2)


def nothing_exists(iam):
    assert iam.list_roles()["Roles"] == []
    assert iam.list_instance_profiles()["InstanceProfiles"] == []


def assert_documented_state(iam, environment="production"):
    role = iam.get_role(RoleName="MyAppRole")["Role"]
    assert role["Arn"] == ROLE_ARN
    assert role["Description"] == "Role for application EC2 instances"
    assert role["AssumeRolePolicyDocument"] == TRUST
    attached = iam.list_attached_role_policies(RoleName="MyAppRole")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [CLOUDWATCH]
    assert iam.list_role_policies(RoleName="MyAppRole")["PolicyNames"] == ["AppAccess"]
    inline = iam.get_role_policy(RoleName="MyAppRole", PolicyName="AppAccess")["PolicyDocument"]
    assert inline == APP_ACCESS
    tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName="MyAppRole")["Tags"]}
    assert tags == {"Application": "my-app", "Environment": environment}
    profile = iam.get_instance_profile(InstanceProfileName="MyAppProfile")["InstanceProfile"]
    assert profile["Arn"] == PROFILE_ARN
    assert [r["RoleName"] for r in profile["Roles"]] == ["MyAppRole"]


def test_documented_iam_setup(moto):
    iam = moto.client("iam")

    # --check on an empty account: predicts everything, the ARNs included, and creates nothing
    moto.reset_calls()
    check = run_playbook(PLAYBOOK, moto.url, check=True, diff=True)
    assert check.rc == 0 and check.failed == 0, check
    assert check.changed == 2, check
    assert re.search(r"^\+\s+\"?instance_profile_name\"?: \"?MyAppProfile", check.stdout, re.M), check
    assert reported_arns(check.stdout) == (ROLE_ARN, PROFILE_ARN)
    assert moto.calls()["mutating"] == 0, moto.calls()
    nothing_exists(iam)

    # first run: everything is created
    first = run_playbook(PLAYBOOK, moto.url)
    assert first.rc == 0, first
    assert first.changed == 2, first
    for task in TASKS:
        assert task_status(first.stdout, task) == "changed", first
    assert reported_arns(first.stdout) == (ROLE_ARN, PROFILE_ARN)
    assert_documented_state(iam)

    # second run: changed=0 for every task, and not one mutating call reaches AWS
    moto.reset_calls()
    second = run_playbook(PLAYBOOK, moto.url)
    assert second.rc == 0 and second.changed == 0, second
    for task in TASKS:
        assert task_status(second.stdout, task) == "ok", second
    calls = moto.calls()
    assert calls["mutating"] == 0, calls

    # --diff shows a change: one tag value, before and after, and only that task changes
    applied = run_playbook(PLAYBOOK, moto.url, extra_vars={"documented_iam_environment": "staging"}, diff=True)
    assert applied.rc == 0 and applied.changed == 1, applied
    assert re.search(r"^-\s+\"?Environment\"?: \"?production", applied.stdout, re.M), applied
    assert re.search(r"^\+\s+\"?Environment\"?: \"?staging", applied.stdout, re.M), applied
    assert task_status(applied.stdout, "Role MyAppRole") == "changed"
    assert task_status(applied.stdout, "Instance profile MyAppProfile") == "ok"
    assert_documented_state(iam, "staging")

    # absent: the profile first, then the role with its attachments and inline policy
    moto.reset_calls()
    gone = run_playbook(PLAYBOOK, moto.url, extra_vars={"documented_iam_state": "absent"})
    assert gone.rc == 0 and gone.changed == 2, gone
    assert task_status(gone.stdout, "Instance profile MyAppProfile is gone") == "changed", gone
    assert task_status(gone.stdout, "Role MyAppRole is gone") == "changed", gone
    assert gone.stdout.index("Instance profile MyAppProfile is gone") < gone.stdout.index("Role MyAppRole is gone")
    counts = moto.calls()["counts"]
    assert counts.get("iam:DeleteInstanceProfile") == 1 and counts.get("iam:DeleteRole") == 1, counts
    nothing_exists(iam)
    assert iam.get_policy(PolicyArn=CLOUDWATCH)["Policy"]["AttachmentCount"] == 0
    again = run_playbook(PLAYBOOK, moto.url, extra_vars={"documented_iam_state": "absent"})
    assert again.rc == 0 and again.changed == 0, again


def test_playbook_is_the_documented_one():
    """The playbook states exactly the guide's documents (the test above checks AWS holds them)."""
    import yaml  # pylint: disable=import-outside-toplevel

    play = yaml.safe_load(PLAYBOOK.read_text())[0]
    assert play["vars"]["documented_iam_app_access"] == APP_ACCESS
    assert play["vars"]["documented_iam_trust_policy"] == TRUST
    text = json.dumps(play)
    assert CLOUDWATCH in text and "MyAppProfile" in text
