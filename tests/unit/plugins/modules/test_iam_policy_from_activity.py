"""iam_policy_from_activity in-process: moto IAM + S3 log files, a local directory, LookupEvents (Stubber)."""

from __future__ import annotations

import datetime
import json
import time

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from ansible_collections.keyless.aws.plugins.module_utils.aws import connection
from ansible_collections.keyless.aws.plugins.modules import iam_policy_from_activity as mod
from tests.support.activity_fixtures import EXPECTED_ACTIONS, lookup_pages, make_events, role_events, write_log_files
from tests.support.fixtures import TRUST
from tests.support.module_runner import run_module

ACCOUNT = "123456789012"  # moto's default account
CREDS = dict(region_name="us-east-1", aws_access_key_id="AKIAFAKE", aws_secret_access_key="fake")
INLINE = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:Get*", "s3:ListBucket", "sqs:ReceiveMessage", "sqs:DeleteMessage"],
     "Resource": "*"}]}
MANAGED = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["dynamodb:*", "kms:Decrypt"], "Resource": "*"}]}


pytestmark = pytest.mark.usefixtures("shared_botocore_loader")


def now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def seed_role():
    iam = boto3.client("iam", **CREDS)
    arn = iam.create_role(RoleName="app-role", Path="/app/", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    iam.put_role_policy(RoleName="app-role", PolicyName="app-inline", PolicyDocument=json.dumps(INLINE))
    policy = iam.create_policy(PolicyName="app-managed", PolicyDocument=json.dumps(MANAGED))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="app-role", PolicyArn=policy)
    return arn, policy


def assert_analysis(result, role_arn, events):
    assert not result.failed, result
    assert result["changed"] is False
    assert result["role"] == {"role_name": "app-role", "arn": role_arn}
    assert result["event_count"] == len(role_events(events, role_arn))
    assert set(result["used_actions"]) == EXPECTED_ACTIONS
    assert result["unused_granted_actions"] == ["dynamodb:*"]
    assert result["unused_by_policy"] == {"arn:aws:iam::%s:policy/app-managed" % ACCOUNT: ["dynamodb:*"]}
    assert {g["pattern"] for g in result["wildcard_grants"]} == {"s3:Get*"}
    not_granted = {e["action"]: e for e in result["used_not_granted"]}
    assert set(not_granted) == {"s3:PutObject", "s3:DeleteObject", "sqs:GetQueueAttributes",
                                "secretsmanager:GetSecretValue", "ssm:GetParameter", "logs:CreateLogStream",
                                "logs:PutLogEvents", "cloudwatch:PutMetricData"}
    assert not_granted["s3:DeleteObject"]["denied"] == not_granted["s3:DeleteObject"]["calls"] > 0
    assert [u["event_name"] for u in result["unmapped_events"]] == ["SendSSHPublicKey"]
    assert {p["type"] for p in result["current_policies"]} == {"inline", "managed"}
    actions = {a for s in result["suggested_policy"]["Statement"] for a in s["Action"]}
    assert actions == EXPECTED_ACTIONS - {"s3:DeleteObject"}


@mock_aws
def test_s3_source_read_only():
    role_arn, policy = seed_role()
    s3 = boto3.client("s3", **CREDS)
    s3.create_bucket(Bucket="trail")
    written = write_log_files(s3, "trail", ACCOUNT, "us-east-1", role_arn, days=2, seed=1, prefix="ct", now=now())
    iam = boto3.client("iam", **CREDS)
    before = (iam.get_role(RoleName="app-role")["Role"], iam.list_role_policies(RoleName="app-role")["PolicyNames"],
              iam.get_policy(PolicyArn=policy)["Policy"]["DefaultVersionId"])
    args = {"role": "app-role", "source": "s3", "s3_bucket": "trail", "s3_prefix": "ct", "days": 7}
    result = run_module(mod.main, args)
    assert_analysis(result, role_arn, written["events"])
    assert result["source"]["type"] == "s3" and result["source"]["regions"] == ["us-east-1"]
    assert result["source"]["files"] == len(written["files"]) and not result["source"]["truncated"]
    assert result["window"]["days"] == 7
    check = run_module(mod.main, dict(args, role=role_arn), check_mode=True)
    assert check["suggested_policy"] == result["suggested_policy"]
    after = (iam.get_role(RoleName="app-role")["Role"], iam.list_role_policies(RoleName="app-role")["PolicyNames"],
             iam.get_policy(PolicyArn=policy)["Policy"]["DefaultVersionId"])
    assert after == before  # never changes the role


@mock_aws
def test_local_source_and_truncation_warning(tmp_path):
    role_arn = seed_role()[0]
    written = write_log_files(str(tmp_path), None, ACCOUNT, "us-east-1", role_arn, days=3, seed=2, now=now())
    result = run_module(mod.main, {"role": "app-role", "source": "local", "local_path": str(tmp_path), "days": 5})
    assert_analysis(result, role_arn, written["events"])
    small = run_module(mod.main, {"role": "app-role", "source": "local", "local_path": str(tmp_path), "max_events": 10})
    assert small["source"]["truncated"] and small["source"]["events_read"] == 10
    assert "max_events=10" in json.dumps(small.get("warnings"))


@mock_aws
def test_lookup_events_source(monkeypatch):
    role_arn = seed_role()[0]
    events = make_events(role_arn, ACCOUNT, "us-east-1", days=3, seed=3, now=now())
    cloudtrail = boto3.client("cloudtrail", **CREDS)
    stub = Stubber(cloudtrail)
    for page in lookup_pages(events, page_size=50):
        stub.add_response("lookup_events", page)
    stub.activate()
    real_client = connection.AwsContext.client
    monkeypatch.setattr(connection.AwsContext, "client",
                        lambda self, service, region=None: cloudtrail if service == "cloudtrail"
                        else real_client(self, service, region))
    started = time.monotonic()
    result = run_module(mod.main, {"role": "app-role", "days": 30})
    stub.assert_no_pending_responses()
    assert_analysis(result, role_arn, events)
    assert result["source"] == {"type": "lookup_events", "regions": ["us-east-1"], "events_read": len(events),
                                "files": 0, "api_calls": 2, "truncated": False}
    assert time.monotonic() - started >= 0.5  # the second page waited for the pacer


@mock_aws
def test_role_missing_and_arn_mismatch(tmp_path):
    seed_role()
    missing = run_module(mod.main, {"role": "nope", "source": "local", "local_path": str(tmp_path)})
    assert missing.failed and "the role nope does not exist" in missing["msg"]
    predicted = run_module(mod.main, {"role": "nope", "source": "local", "local_path": str(tmp_path)}, check_mode=True)
    assert not predicted.failed and predicted["event_count"] == 0 and predicted["suggested_policy"] is None
    assert "role nope does not exist yet" in json.dumps(predicted["warnings"])
    assert predicted["used_actions"] == [] and predicted["role"] == {"role_name": "nope", "arn": None}
    other = run_module(mod.main, {"role": "arn:aws:iam::%s:role/other/app-role" % ACCOUNT, "source": "local",
                                  "local_path": str(tmp_path)})
    assert other.failed and "does not match" in other["msg"]


@pytest.mark.parametrize("args,message", [
    ({"role": "bad name!"}, "role='bad name!'"),
    ({"role": "arn:aws:iam::123456789012:user/u"}, "is not a role ARN"),
    ({"role": "r", "days": 91}, "days=91 is out of range: with source=lookup_events use 1 to 90"),
    ({"role": "r", "days": 0, "source": "local", "local_path": "/tmp"}, "days=0 is out of range"),
    ({"role": "r", "source": "s3"}, "source=s3 needs s3_bucket"),
    ({"role": "r", "source": "local"}, "source=local needs local_path"),
    ({"role": "r", "s3_bucket": "b"}, "s3_bucket='b' is only used with source=s3"),
    ({"role": "r", "source": "s3", "s3_bucket": "b", "local_path": "/tmp"}, "local_path='/tmp' is only used"),
    ({"role": "r", "organization_id": "o-abcdefghij"}, "organization_id is only used with log files"),
    ({"role": "r", "source": "s3", "s3_bucket": "b", "organization_id": "org1"}, "organization_id='org1'"),
    ({"role": "r", "regions": ["us-east-1", "mars"]}, "regions: 'mars' is not a region name"),
    ({"role": "r", "max_events": 0}, "max_events=0 must be at least 1"),
])
def test_validation_fails_before_any_call(args, message, monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setattr(connection.AwsContext, "__init__", lambda *a, **k: pytest.fail("AWS was contacted"))
    result = run_module(mod.main, args)
    assert result.failed and message in result["msg"], result["msg"]


def test_lookup_events_without_any_region_fails_before_any_call(monkeypatch, tmp_path):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))  # no profile region either
    monkeypatch.setattr(connection.AwsContext, "client", lambda *a, **k: pytest.fail("AWS was contacted"))
    result = run_module(mod.main, {"role": "r", "region": None})
    assert result.failed and result["msg"].startswith(
        "invalid input: region is required: set the region option, the AWS_REGION or AWS_DEFAULT_REGION environment variable, "
        "or region in profile 'default' of the AWS config file"), result["msg"]


def test_lookup_events_reads_the_profile_region(monkeypatch, tmp_path):
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    config = tmp_path / "config"
    config.write_text("[profile audit]\nregion = eu-north-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))

    class FirstCall(Exception):
        pass

    def first_call(self, service, region=None):
        raise FirstCall(self.region)
    monkeypatch.setattr(connection.AwsContext, "client", first_call)
    with pytest.raises(FirstCall, match="^eu-north-1$"):
        run_module(mod.main, {"role": "r", "region": None, "profile": "audit", "access_key": None, "secret_key": None})
