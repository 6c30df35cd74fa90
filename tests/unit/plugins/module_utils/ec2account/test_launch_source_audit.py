"""ec2account/launch_source_audit.py's pure half: what a group launches from, a launch configuration judged like
a template version, owners whose settings are not read, the summary."""

from __future__ import annotations

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.ec2account import launch_source_audit as audit
from ansible_collections.keyless.aws.plugins.module_utils.fleet.ownership import owner_of

SPEC = {"LaunchTemplateId": "lt-0123456789abcdef0", "Version": "3"}
ARM = {"LaunchTemplateName": "arm", "Version": "$Latest"}


@pytest.mark.parametrize("group, specs", [
    ({"LaunchTemplate": SPEC}, [SPEC]),
    ({"MixedInstancesPolicy": {"LaunchTemplate": {"LaunchTemplateSpecification": SPEC, "Overrides": [
        {"InstanceType": "t3.micro"}, {"InstanceType": "t4g.micro", "LaunchTemplateSpecification": ARM}]}}}, [SPEC, ARM]),
    ({"LaunchConfigurationName": "old"}, []),
    ({}, []),
])
def test_group_configs(group, specs):
    assert [c["LaunchTemplateSpecification"] for c in audit.group_configs(group)] == specs


@pytest.mark.parametrize("lc, expected, findings", [
    ({"LaunchConfigurationName": "a"}, {"http_tokens": "required"}, ["launch_configuration", "imdsv1_allowed"]),
    ({"LaunchConfigurationName": "a", "MetadataOptions": {"HttpTokens": "required"}}, {"http_tokens": "required"},
     ["launch_configuration"]),
    ({"LaunchConfigurationName": "a", "IamInstanceProfile": "App", "MetadataOptions": {"HttpTokens": "required"}},
     {"instance_profile": "App", "http_tokens": "required"}, ["launch_configuration"]),
    ({"LaunchConfigurationName": "a", "IamInstanceProfile": "arn:aws:iam::123456789012:instance-profile/Old"},
     {"instance_profile": "App"}, ["launch_configuration", "wrong_profile"]),
])
def test_a_launch_configuration_is_judged_and_always_reported(lc, expected, findings):
    assert audit.configuration_view(lc, expected)["findings"] == findings


def test_metadata_only_drops_what_an_owner_keeps():
    assert audit.metadata_only({"instance_profile": "App", "role": "R", "http_tokens": "required",
                                "min_hop_limit": 2}) == {"http_tokens": "required", "min_hop_limit": 2}


def test_owners_whose_settings_are_not_read_and_the_summary():
    karpenter = audit.not_read_record(owner_of({"karpenter.sh/nodepool": "default"}), ["i-1"])
    assert karpenter["compliant"] is None and "EC2NodeClass" in karpenter["converge"]
    gone = audit.gone("autoscaling", "old-asg", ["i-2"], "nothing")
    assert gone["findings"] == ["not_found"] and gone["compliant"] is None  # launches nothing any more
    ok = audit.gone("autoscaling", "x", [], "")
    ok.update(findings=[], compliant=True)
    bad = audit.gone("autoscaling", "y", [], "")
    bad.update(findings=["imdsv1_allowed"], compliant=False)
    assert audit.summarize([karpenter, gone, ok, bad]) == {
        "total": 4, "compliant": 1, "non_compliant": 1, "not_read": 2,
        "by_kind": {"karpenter": 1, "autoscaling": 3}, "by_finding": {"not_found": 1, "imdsv1_allowed": 1}}


def test_a_fleet_aws_forgot_or_that_launches_no_more_is_no_launch_source():
    """Instances keep the tag of a Spot Fleet request cancelled long ago, which AWS no longer knows (the whole call
    fails for one unknown id): read one id at a time, and judge only requests that can still launch."""
    import boto3
    from botocore.stub import Stubber

    ec2 = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="AKIAFAKE", aws_secret_access_key="fake")
    records = {iid: {"instance_id": iid, "owner": owner_of({"aws:ec2spot:fleet-request-id": fleet})}
               for iid, fleet in (("i-1", "sfr-gone"), ("i-2", "sfr-live"), ("i-3", "sfr-done"))}
    live = {"SpotFleetRequestId": "sfr-live", "SpotFleetRequestState": "active", "SpotFleetRequestConfig": {
        "Type": "maintain", "IamFleetRole": "arn:aws:iam::123456789012:role/fleet", "TargetCapacity": 1,
        "LaunchSpecifications": [{"ImageId": "ami-12345678"}]}}
    done = dict(live, SpotFleetRequestId="sfr-done", SpotFleetRequestState="cancelled_running")
    with Stubber(ec2) as stub:
        stub.add_client_error("describe_spot_fleet_requests", "InvalidSpotFleetRequestId.NotFound",
                              expected_params={"SpotFleetRequestIds": ["sfr-done", "sfr-gone", "sfr-live"]})
        stub.add_response("describe_spot_fleet_requests", {"SpotFleetRequestConfigs": [done]},
                          {"SpotFleetRequestIds": ["sfr-done"]})
        stub.add_client_error("describe_spot_fleet_requests", "InvalidSpotFleetRequestId.NotFound",
                              expected_params={"SpotFleetRequestIds": ["sfr-gone"]})
        stub.add_response("describe_spot_fleet_requests", {"SpotFleetRequestConfigs": [live]},
                          {"SpotFleetRequestIds": ["sfr-live"]})
        found = audit.observe(lambda service: ec2, records, {"http_tokens": "required"})
        stub.assert_no_pending_responses()
    assert [(r["kind"], r["id"], r["instances"]) for r in found] == [("spot_fleet", "sfr-live", ["i-2"])]
    assert found[0]["findings"] == ["imdsv1_allowed"]  # a launch specification carries no MetadataOptions
