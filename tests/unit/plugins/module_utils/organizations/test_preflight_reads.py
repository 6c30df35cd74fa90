"""preflight.read_region: the reads of one account and region, under moto's mock_aws (CloudTrail's LookupEvents through
a Stubber: moto has none). What is read is judged by judge_region like the pure tests' tables."""

from __future__ import annotations

import datetime
import json

import boto3
from botocore.stub import Stubber
from moto import mock_aws

from ansible_collections.keyless.aws.plugins.module_utils.organizations import preflight
from tests.support.fleet_seed import put_metric_history

REGION = "us-east-1"
ACCOUNT = "123456789012"
SETTINGS = {"hop_limit_cap": 2, "require_instance_profile": False, "deny_imdsv1_credentials": True,
            "imdsv1_lookback_days": 14, "exempt_principal_arns": ["arn:aws:iam::*:role/keyless-deployer"]}


def event(arn, when):
    issuer = arn.replace(":sts:", ":iam:").replace("assumed-role/", "role/").rsplit("/", 1)[0]
    record = {"eventID": "e-" + arn[-6:], "eventName": "ModifyInstanceMetadataOptions", "eventSource": "ec2.amazonaws.com",
              "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "awsRegion": REGION,
              "userIdentity": {"type": "AssumedRole", "arn": arn,
                               "sessionContext": {"sessionIssuer": {"type": "Role", "arn": issuer}}}}
    return {"EventId": record["eventID"], "EventName": record["eventName"], "EventTime": when,
            "EventSource": record["eventSource"], "CloudTrailEvent": json.dumps(record)}


@mock_aws
def test_read_region_sees_groups_templates_imdsv1_calls_and_modify_callers():
    ec2 = boto3.client("ec2", region_name=REGION)
    asg = boto3.client("autoscaling", region_name=REGION)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    web = ec2.create_launch_template(LaunchTemplateName="web", LaunchTemplateData={
        "ImageId": "ami-12c6146b", "MetadataOptions": {"HttpTokens": "optional"}})["LaunchTemplate"]["LaunchTemplateId"]
    alone = ec2.create_launch_template(LaunchTemplateName="alone", LaunchTemplateData={
        "ImageId": "ami-12c6146b", "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 3}})[
        "LaunchTemplate"]["LaunchTemplateId"]
    asg.create_auto_scaling_group(AutoScalingGroupName="web-asg", MinSize=0, MaxSize=1, DesiredCapacity=0,
                                  AvailabilityZones=[REGION + "a"], LaunchTemplate={"LaunchTemplateId": web})
    caller = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1,
                               MetadataOptions={"HttpTokens": "optional"})["Instances"][0]["InstanceId"]
    quiet = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1,
                              MetadataOptions={"HttpTokens": "optional"})["Instances"][0]["InstanceId"]
    put_metric_history(cloudwatch, [caller, quiet], 14, values={caller: [5, 2]})

    cloudtrail = boto3.client("cloudtrail", region_name=REGION)
    stub = Stubber(cloudtrail)
    now = datetime.datetime.now(datetime.timezone.utc)
    stub.add_response("lookup_events", {"Events": [
        event("arn:aws:sts::%s:assumed-role/ops/alice" % ACCOUNT, now - datetime.timedelta(days=1)),
        event("arn:aws:sts::%s:assumed-role/keyless-deployer/run" % ACCOUNT, now - datetime.timedelta(days=2))]})
    stub.activate()
    clients = {"ec2": ec2, "autoscaling": asg, "cloudwatch": cloudwatch, "cloudtrail": cloudtrail}
    settings = dict(SETTINGS, check_cloudtrail=True, cloudtrail_days=7)

    observed = preflight.read_region(clients.__getitem__, settings)
    stub.assert_no_pending_responses()
    assert observed["instances"] == 2 and observed["imdsv1_candidates"] == 2
    assert observed["imdsv1"][caller]["signal"] == "calls" and observed["imdsv1"][quiet]["signal"] == "clean"
    assert observed["modify_callers"] == {"arn:aws:iam::%s:role/ops" % ACCOUNT: 1,
                                          "arn:aws:iam::%s:role/keyless-deployer" % ACCOUNT: 1}

    found = {(f["kind"], f["name"]): f for f in preflight.judge_region(ACCOUNT, REGION, observed, settings)}
    assert set(found) == {("autoscaling_group", "web-asg"), ("instance", caller), ("launch_template", alone),
                          ("launch_template", web), ("modify_caller", "arn:aws:iam::%s:role/ops" % ACCOUNT)}
    assert found[("launch_template", web)]["used_by"] == ["web-asg"]
    assert "above the cap 2" in found[("launch_template", alone)]["reasons"][0]
