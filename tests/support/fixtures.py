"""Test data and fixtures that several test files share: the EC2 trust policy, a recorder of the AWS operations
made in-process, Access Analyzer stubbed, and a small fleet under moto's in-process mock_aws (two instance profiles, App and Legacy, each
with a role; instances launched on demand).

Fake credentials and the environment of a run against a moto server are in tests/support/aws_env.py; the fake
clock of retries and rate limits in tests/support/fake_clock.py."""

from __future__ import annotations

import json

import boto3
import botocore.client

# The trust policy of a role that EC2 instances assume (an instance profile's role).
EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
TRUST = json.dumps(EC2_TRUST)  # as AssumeRolePolicyDocument takes it
MOTO_IMAGE = "ami-12c6146b"  # one of moto's built-in AMIs


def record_api_calls(monkeypatch):
    """From now on, every AWS operation any botocore client makes in-process, in order (the list returned)."""
    seen = []
    original = botocore.client.BaseClient._make_api_call

    def record(self, operation, params):
        seen.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    return seen


def stub_access_analyzer(monkeypatch, responses):
    """Access Analyzer (which moto lacks) as botocore's Stubber: each ValidatePolicy answers the next (expected
    params, response) of `responses`; the module's AwsContext hands out this client for "accessanalyzer"."""
    import botocore.session  # pylint: disable=import-outside-toplevel
    from botocore.stub import Stubber  # pylint: disable=import-outside-toplevel

    from ansible_collections.keyless.aws.plugins.module_utils.aws import connection  # pylint: disable=import-outside-toplevel

    analyzer = botocore.session.get_session().create_client(
        "accessanalyzer", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    stub = Stubber(analyzer)
    for expected, response in responses:
        stub.add_response("validate_policy", response, expected)
    stub.activate()
    real_client = connection.AwsContext.client
    monkeypatch.setattr(connection.AwsContext, "client", lambda self, service, region=None: analyzer
                        if service == "accessanalyzer" else real_client(self, service, region))
    return stub


class MockFleet:
    """boto3 clients in us-east-1 (inside mock_aws) and a fleet to build: profiles App and Legacy (roles AppRole,
    LegacyRole) at once, `hop`: the metadata hop limit every launch sets with HttpTokens optional (None: moto's
    defaults, no MetadataOptions sent)."""

    def __init__(self, profiles=("App", "Legacy"), hop=None):
        self.ec2 = boto3.client("ec2", region_name="us-east-1")
        self.iam = boto3.client("iam", region_name="us-east-1")
        self.hop = hop
        self.arns = {name: self.profile(name) for name in profiles}

    def profile(self, name, role=True):
        """Instance profile `name`, with role `name`Role in it (role=False: empty); its ARN."""
        arn = self.iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Arn"]
        if role:
            self.iam.create_role(RoleName=name + "Role", AssumeRolePolicyDocument=TRUST)
            self.iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name + "Role")
        return arn

    def launch(self, n, fleet="app", hop=None):
        """`n` running instances tagged Fleet=`fleet`; their ids."""
        extra = {}
        hop = self.hop if hop is None else hop
        if hop is not None:
            extra["MetadataOptions"] = {"HttpTokens": "optional", "HttpPutResponseHopLimit": hop}
        resp = self.ec2.run_instances(ImageId=MOTO_IMAGE, MinCount=n, MaxCount=n, TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "Fleet", "Value": fleet}]}], **extra)
        return [i["InstanceId"] for i in resp["Instances"]]

    def associate(self, iid, name):
        self.ec2.associate_iam_instance_profile(InstanceId=iid, IamInstanceProfile={"Name": name})

    def profile_of(self, iid):
        """The name of the instance profile of the instance's active association, or None."""
        found = self.ec2.describe_iam_instance_profile_associations(
            Filters=[{"Name": "instance-id", "Values": [iid]}])["IamInstanceProfileAssociations"]
        active = [a for a in found if a["State"] in ("associating", "associated")]
        return active[0]["IamInstanceProfile"]["Arn"].split("/")[-1] if active else None

    def options_of(self, iid):
        return self.ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["MetadataOptions"]
