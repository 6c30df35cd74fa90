"""iam_policy_from_activity with `user` (issue 24, "Replace"): the policy of the role that replaces a user's keys, from
what the keys did (optionally only from given addresses or instances). In-process: moto IAM/EC2, a local trail."""

from __future__ import annotations

import datetime
import json

import boto3
import pytest
from moto import mock_aws

from ansible_collections.keyless.aws.plugins.module_utils.aws import connection
from ansible_collections.keyless.aws.plugins.modules import iam_policy_from_activity as mod
from tests.support.activity_fixtures import make_events, write_log_files
from tests.support.module_runner import run_module

ACCOUNT = "123456789012"
CREDS = dict(region_name="us-east-1", aws_access_key_id="AKIAFAKE", aws_secret_access_key="fake")
INLINE = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "iam:*"], "Resource": "*"}]}
pytestmark = pytest.mark.usefixtures("shared_botocore_loader")


def user_event(when, source, name, address, key="AKIAAPPKEY0000000001", user="app", params=None):
    return {"eventVersion": "1.09", "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventSource": source,
            "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": address, "requestParameters": params,
            "eventID": "%s-%s-%s-%s" % (name, address, when.isoformat(), user), "eventType": "AwsApiCall",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::%s:user/%s" % (ACCOUNT, user), "accountId": ACCOUNT,
                             "accessKeyId": key, "userName": user}}


@pytest.fixture
def account(tmp_path, monkeypatch):
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CA_BUNDLE"):
        monkeypatch.delenv(key, raising=False)
    with mock_aws():
        iam = boto3.client("iam", **CREDS)
        iam.create_user(UserName="app")
        iam.put_user_policy(UserName="app", PolicyName="app-inline", PolicyDocument=json.dumps(INLINE))
        ec2 = boto3.client("ec2", **CREDS)
        instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]
        private = instance["PrivateIpAddress"]
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        events = make_events("arn:aws:iam::%s:role/app-role" % ACCOUNT, ACCOUNT, "us-east-1", days=2, seed=3, now=now)
        for hours in range(1, 6):
            when = now - datetime.timedelta(hours=hours)
            events.append(user_event(when, "s3.amazonaws.com", "GetObject", private,
                                     params={"bucketName": "app-data", "key": "config/app.json"}))
            events.append(user_event(when, "sqs.amazonaws.com", "ReceiveMessage", "10.0.0.5"))
            events.append(user_event(when, "dynamodb.amazonaws.com", "GetItem", "203.0.113.9",
                                     params={"tableName": "orders"}))
            events.append(user_event(when, "kms.amazonaws.com", "Decrypt", private, user="other"))
        events.sort(key=lambda e: e["eventTime"])
        write_log_files(str(tmp_path), None, ACCOUNT, "us-east-1", "arn:aws:iam::%s:role/app-role" % ACCOUNT,
                        events=events)
        yield {"trail": str(tmp_path), "instance": instance["InstanceId"], "private": private}


def test_every_call_of_the_user_keys(account):
    result = run_module(mod.main, {"user": "app", "source": "local", "local_path": account["trail"], "days": 3})
    assert not result.failed, result
    assert result["role"] is None and result["user"]["arn"] == "arn:aws:iam::%s:user/app" % ACCOUNT
    assert result["user"]["source_addresses"] is None
    assert result["event_count"] == 15  # the user's calls only: not the role's, not the other user's
    assert result["used_actions"] == ["dynamodb:GetItem", "s3:GetObject", "sqs:ReceiveMessage"]
    assert result["current_policies"] == [{"type": "inline", "name": "app-inline"}]
    assert {e["action"] for e in result["used_not_granted"]} == {"dynamodb:GetItem", "sqs:ReceiveMessage"}
    assert result["unused_granted_actions"] == ["iam:*"]
    actions = {a for s in result["suggested_policy"]["Statement"] for a in s["Action"]}
    assert actions == {"dynamodb:GetItem", "s3:GetObject", "sqs:ReceiveMessage"}


def test_only_the_calls_from_an_instance_and_an_address(account):
    by_instance = run_module(mod.main, {"user": "app", "source": "local", "local_path": account["trail"], "days": 3,
                                        "instance_ids": [account["instance"]]})
    assert not by_instance.failed, by_instance
    assert by_instance["used_actions"] == ["s3:GetObject"] and by_instance["event_count"] == 5
    assert account["private"] in by_instance["user"]["source_addresses"]
    both = run_module(mod.main, {"user": "app", "source": "local", "local_path": account["trail"], "days": 3,
                                 "instance_ids": [account["instance"]], "source_addresses": ["10.0.0.5"]})
    assert both["used_actions"] == ["s3:GetObject", "sqs:ReceiveMessage"] and both["event_count"] == 10


def test_unknown_user_and_instance(account):
    assert "no IAM user ghost" in run_module(mod.main, {"user": "ghost", "source": "local",
                                                        "local_path": account["trail"]})["msg"]
    missing = run_module(mod.main, {"user": "app", "source": "local", "local_path": account["trail"],
                                    "instance_ids": ["i-0123456789abcdef0"]})
    assert missing.failed and "i-0123456789abcdef0 not found" in missing["msg"]


@pytest.mark.parametrize("args, fragment", [
    ({"role": "r1", "user": "app"}, "not both"),
    ({}, "not neither"),
    ({"user": "app user"}, "user='app user' is not an IAM user name"),
    ({"role": "r1", "source_addresses": ["10.0.0.5"]}, "only used with user"),
    ({"user": "app", "source_addresses": ["10.0.0.300"]}, "'10.0.0.300' is not an IP address"),
    ({"user": "app", "instance_ids": ["web-1"]}, "invalid ids 'web-1'"),
])
def test_bad_input_fails_before_any_aws_call(monkeypatch, args, fragment):
    def no_session(*a, **kw):
        raise AssertionError("an AWS session was created before validation finished")

    monkeypatch.setattr(connection.boto3.session, "Session", no_session)
    result = run_module(mod.main, args)
    assert result.failed and fragment in result["msg"], result["msg"]
