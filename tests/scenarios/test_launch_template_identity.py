"""ec2_launch_template_identity through a real ansible-playbook run against the moto server.

The playbook checks (check mode), fixes and re-runs; the final state is read straight from EC2.
"""

from __future__ import annotations

import json

import pytest

from tests.support.playbook import run_playbook

pytestmark = pytest.mark.integration

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})

PLAYBOOK = """
- name: Launch templates born compliant
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Predict (check mode)
      keyless.aws.ec2_launch_template_identity:
        tags: {team: web}
        instance_profile: app-profile
        http_tokens: required
      check_mode: true
      register: predicted

    - name: Fix the web templates
      keyless.aws.ec2_launch_template_identity:
        tags: {team: web}
        instance_profile: app-profile
        http_tokens: required
      register: fixed

    - name: Run again
      keyless.aws.ec2_launch_template_identity:
        tags: {team: web}
        instance_profile: app-profile
        http_tokens: required
      register: again

    - name: The rerun changed nothing and the prediction matched
      ansible.builtin.assert:
        that:
          - predicted is changed
          - fixed is changed
          - again is not changed
          - predicted.templates | map(attribute='version_created') | list == fixed.templates | map(attribute='version_created') | list
          - again.summary.unchanged == 2
"""


def test_playbook_fixes_templates_and_reruns_clean(moto):
    iam, ec2 = moto.client("iam"), moto.client("ec2")
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=TRUST)
    iam.create_instance_profile(InstanceProfileName="app-profile")
    iam.add_role_to_instance_profile(InstanceProfileName="app-profile", RoleName="app")
    ids = {}
    for name, options in (("web-a", {"HttpTokens": "optional", "HttpPutResponseHopLimit": 2}),
                          ("web-b", {"HttpTokens": "required", "HttpPutResponseHopLimit": 1})):
        ids[name] = ec2.create_launch_template(
            LaunchTemplateName=name,
            LaunchTemplateData={"ImageId": "ami-12345678", "InstanceType": "t3.small", "MetadataOptions": options},
            TagSpecifications=[{"ResourceType": "launch-template", "Tags": [{"Key": "team", "Value": "web"}]}],
        )["LaunchTemplate"]["LaunchTemplateId"]
    other = ec2.create_launch_template(LaunchTemplateName="db", LaunchTemplateData={"ImageId": "ami-12345678"})
    moto.reset_calls()

    result = run_playbook(PLAYBOOK, moto.url)
    assert result.rc == 0 and result.failed == 0, result
    assert result.recap["localhost"]["changed"] == 2  # check-mode prediction + the fix

    counts = moto.calls()["counts"]
    assert counts.get("ec2:CreateLaunchTemplateVersion") == 2 and counts.get("ec2:ModifyLaunchTemplate") == 2
    for name, template_id in ids.items():
        template = ec2.describe_launch_templates(LaunchTemplateIds=[template_id])["LaunchTemplates"][0]
        assert (template["DefaultVersionNumber"], template["LatestVersionNumber"]) == (2, 2), name
        data = ec2.describe_launch_template_versions(LaunchTemplateId=template_id, Versions=["$Default"])[
            "LaunchTemplateVersions"][0]["LaunchTemplateData"]
        assert data["IamInstanceProfile"] == {"Name": "app-profile"}
        assert data["MetadataOptions"]["HttpTokens"] == "required"
        assert (data["ImageId"], data["InstanceType"]) == ("ami-12345678", "t3.small")
    hop_a = ec2.describe_launch_template_versions(LaunchTemplateId=ids["web-a"], Versions=["$Default"])[
        "LaunchTemplateVersions"][0]["LaunchTemplateData"]["MetadataOptions"]["HttpPutResponseHopLimit"]
    assert hop_a == 2  # only the given field changed
    untouched = ec2.describe_launch_templates(LaunchTemplateIds=[other["LaunchTemplate"]["LaunchTemplateId"]])
    assert untouched["LaunchTemplates"][0]["LatestVersionNumber"] == 1
