"""Fleets that replace themselves: the ec2_identity role on a fleet whose instances Auto Scaling groups (pinned,
$Latest, $Default, a shared template, mixed overrides, a launch configuration), an EKS node group and a Beanstalk
environment own (tests/support/launch_sources_seed.py).

Done when (issue "Fleets that replace themselves"): after the run every ASG launches compliant instances (a
scale-out, simulated by launching from what each group names now, is compliant), no instance profile of an
EKS- or Beanstalk-owned instance changed, what was left is reported with why, and a rerun is changed=0 with 0
mutating calls. Ground truth comes from boto3, never from the role's report.
"""

from __future__ import annotations

import json

import pytest

from tests.support.launch_sources_seed import launch_like, launched_identity, seed_launch_sources
from tests.support.moto_server import mutating_calls
from tests.support.playbook import role_playbook, run_playbook

pytestmark = pytest.mark.integration

PROFILE = "LsApp"


def template_versions(moto, template_id):
    ec2 = moto.client("ec2")
    return [v["VersionNumber"] for v in ec2.describe_launch_template_versions(LaunchTemplateId=template_id)[
        "LaunchTemplateVersions"]]


def test_the_role_converges_what_every_group_launches_and_leaves_owners_alone(moto, tmp_path):
    url = moto.url
    seeded = seed_launch_sources(url, prefix="ls")
    groups = [g for g in seeded["groups"] if g != "ls-eks-nodes"]
    before = {g: launched_identity(url, launch_like(url, g)) for g in groups}
    assert all(i["profile"] is None and i["http_tokens"] == "optional" for g in before.values() for i in g.values())
    eks_versions = template_versions(moto, seeded["templates"]["ls-eks-nodes"])
    result_file = tmp_path / "result.json"
    play = role_playbook(result_file, {
        "ec2_identity_role_name": PROFILE, "ec2_identity_instance_tags": seeded["tag"],
        "ec2_identity_http_tokens": "required", "ec2_identity_convert_launch_configurations": True,
        "ec2_identity_report_dir": str(tmp_path / "reports"),
        # moto launches no instance for a MixedInstancesPolicy, so that group owns none: named, as a group scaled to
        # zero would be
        "ec2_identity_autoscaling_group_names": ["ls-mixed"]})
    moto.reset_calls()

    check = run_playbook(play, url, check=True, diff=True)
    assert check.rc == 0, check.stdout[-4000:]
    assert mutating_calls(moto.calls()) == {}
    predicted = json.loads(result_file.read_text())
    assert predicted["autoscaling_groups"]["summary"]["changed"] == len(groups)

    first = run_playbook(play, url)
    assert first.rc == 0, first
    result = json.loads(result_file.read_text())
    asg = result["autoscaling_groups"]
    assert sorted(g["name"] for g in asg["groups"]) == sorted(groups), asg  # EKS's own group is not the fleet's
    assert asg["summary"]["changed"] == len(groups) and asg["summary"]["failed"] == 0, asg

    # a scale-out of every group now launches compliant instances
    for group in groups:
        launched = launched_identity(url, launch_like(url, group))
        assert launched and all(i["profile"] == PROFILE and i["http_tokens"] == "required"
                                for i in launched.values()), (group, launched)
    # nothing else of what a group launches changed: each version differs by instance type, and the group still
    # launches the type of the version it named before (a pinned group version 1's, $Latest the latest's ...)
    ec2 = moto.client("ec2")
    want = {"ls-pinned": "t3.micro", "ls-latest": "t3.small", "ls-default": "t3.micro", "ls-shared-latest": "t3.small",
            "ls-shared-pinned": "t3.micro"}
    for group, instance_type in want.items():
        spec = moto.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])[
            "AutoScalingGroups"][0]["LaunchTemplate"]
        data = ec2.describe_launch_template_versions(LaunchTemplateId=spec["LaunchTemplateId"], Versions=[
            spec.get("Version") or "$Default"])["LaunchTemplateVersions"][0]["LaunchTemplateData"]
        assert data["InstanceType"] == instance_type, (group, spec, data)

    # the owners' instances keep their profiles; EKS's template got no version; both are reported
    owned = launched_identity(url, seeded["instances"]["eks"] + seeded["instances"]["beanstalk"])
    assert all(i["profile"] is None for i in owned.values()), owned
    assert template_versions(moto, seeded["templates"]["ls-eks-nodes"]) == eks_versions
    assert sorted(o["instance_id"] for o in result["owned_instances"]) == sorted(owned)
    report = (tmp_path / "reports" / ("localhost-%s.md" % PROFILE)).read_text()
    assert "## Left to their owners (2)" in report and "## Auto Scaling groups" in report

    moto.reset_calls()
    again = run_playbook(play, url)
    assert again.rc == 0, again
    assert again.changed == 0, again
    assert mutating_calls(moto.calls()) == {}
