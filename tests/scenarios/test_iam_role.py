"""iam_role / iam_role_info through real ansible-playbook runs against the moto server fixture.

The playbook is the IAM role half of the documented setup: MyAppRole trusted by ec2.amazonaws.com,
CloudWatchAgentServerPolicy attached, the least-privilege AppAccess inline policy. AWS state is read back
with boto3, not taken from the module's report.
"""

from __future__ import annotations

import json

import pytest

from tests.support.playbook import run_playbook

pytestmark = pytest.mark.integration

CW = "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"
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

PLAYBOOK = """
- name: IAM role of the documented setup
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Role for the application's EC2 instances
      keyless.aws.iam_role:
        name: MyAppRole
        description: Role for application EC2 instances
        trusted_services: [ec2.amazonaws.com]
        managed_policies: [CloudWatchAgentServerPolicy]
        inline_policies:
          AppAccess: "{{ app_access | to_json }}"
        tags:
          Application: my-app
      register: role

    - name: The role ARN is known, even in check mode
      ansible.builtin.assert:
        that:
          - role.role.arn == 'arn:aws:iam::123456789012:role/MyAppRole'
          - role.role.managed_policies == ['arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy']

    - name: Read the role back
      keyless.aws.iam_role_info:
        name: MyAppRole
      register: info
      when: not ansible_check_mode

    - name: Tags and policies are really read
      ansible.builtin.assert:
        that:
          - info.roles | length == 1
          - "info.roles[0].tags == {'Application': 'my-app'}"
          - info.roles[0].inline_policies.AppAccess.Statement | length == 3
      when: not ansible_check_mode
"""

ABSENT = """
- name: Remove the role
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Role absent
      keyless.aws.iam_role:
        name: MyAppRole
        state: absent
"""


def _assert_role_matches_guide(iam):
    role = iam.get_role(RoleName="MyAppRole")["Role"]
    assert role["Description"] == "Role for application EC2 instances"
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    attached = iam.list_attached_role_policies(RoleName="MyAppRole")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [CW]
    assert iam.get_role_policy(RoleName="MyAppRole", PolicyName="AppAccess")["PolicyDocument"] == APP_ACCESS
    assert iam.list_role_tags(RoleName="MyAppRole")["Tags"] == [{"Key": "Application", "Value": "my-app"}]


def test_check_on_empty_account_then_create_rerun_and_remove(moto):
    iam = moto.client("iam")
    extra = {"app_access": APP_ACCESS}

    moto.reset_calls()
    check = run_playbook(PLAYBOOK, moto.url, extra_vars=extra, check=True, diff=True)
    assert check.rc == 0, check
    assert check.recap["localhost"]["changed"] == 1, check
    assert moto.calls()["mutating"] == 0
    assert iam.list_roles()["Roles"] == []

    first = run_playbook(PLAYBOOK, moto.url, extra_vars=extra, diff=True)
    assert first.rc == 0 and first.recap["localhost"]["changed"] == 1, first
    assert '"Application": "my-app"' in first.stdout  # --diff shows the declared tags
    _assert_role_matches_guide(iam)

    moto.reset_calls()
    second = run_playbook(PLAYBOOK, moto.url, extra_vars=extra)
    assert second.rc == 0, second
    assert second.recap["localhost"]["changed"] == 0, second
    assert moto.calls()["mutating"] == 0

    gone = run_playbook(ABSENT, moto.url)
    assert gone.rc == 0 and gone.recap["localhost"]["changed"] == 1, gone
    assert iam.list_roles()["Roles"] == []


def test_admin_grant_refused_before_any_call(moto):
    playbook = """
- name: Admin refused
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Role with AdministratorAccess
      keyless.aws.iam_role:
        name: TooPowerful
        managed_policies: [AdministratorAccess]
"""
    moto.reset_calls()
    result = run_playbook(playbook, moto.url)
    assert result.rc != 0 and result.recap["localhost"]["failed"] == 1, result
    assert "administrator-level access" in result.stdout
    assert moto.calls()["total"] == 0
    assert json.dumps(moto.client("iam").list_roles()["Roles"]) == "[]"


def test_mistyped_managed_policy_arn_is_refused_with_nothing_created(moto):
    """Day one on a real account: a typo in an AWS-managed policy ARN passes neither --check nor the real run,
    and the real run creates nothing (before: CreateRole, then AttachRolePolicy failed on a half-built role)."""
    playbook = PLAYBOOK.replace("managed_policies: [CloudWatchAgentServerPolicy]",
                                "managed_policies: [arn:aws:iam::aws:policy/CloudWatchAgentServerPolisy]")
    assert playbook != PLAYBOOK
    iam = moto.client("iam")
    expected = ("managed_policies item 'arn:aws:iam::aws:policy/CloudWatchAgentServerPolisy' does not exist "
                "(GetPolicy: NoSuchEntity): there is no AWS-managed policy of that name")
    for check in (True, False):
        moto.reset_calls()
        result = run_playbook(playbook, moto.url, extra_vars={"app_access": APP_ACCESS}, check=check)
        assert result.rc != 0 and result.recap["localhost"]["failed"] == 1, result
        assert result.recap["localhost"]["changed"] == 0, result
        assert expected in result.stdout, result
        calls = moto.calls()
        assert calls["mutating"] == 0, calls
        assert calls["counts"].get("iam:GetPolicy") == 1, calls
        assert iam.list_roles()["Roles"] == []
