"""activity_policy: events -> suggested policy and the comparison with current policies (pure)."""

from __future__ import annotations

import datetime
import json

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.activity.suggested_policy import (
    MAX_PREFIXES_PER_BUCKET,
    MAX_RESOURCES_PER_TYPE,
    analyze,
    compare,
    event_resources,
    narrow_resources,
    suggest_policy,
    summarize,
)
from ansible_collections.keyless.aws.plugins.module_utils.activity.action_map import Needed
from ansible_collections.keyless.aws.plugins.module_utils.iam.documents import parse_policy
from tests.support.activity_fixtures import EXPECTED_ACTIONS, make_events, role_events

ACCOUNT = "123456789012"
ROLE = "arn:aws:iam::%s:role/app/app-role" % ACCOUNT
NOW = datetime.datetime(2026, 12, 1, 8, 0, tzinfo=datetime.timezone.utc)


def ev(source, name, params=None, resources=None, error=None, region="us-east-1", when="2026-11-30T10:00:00Z"):
    out = {"eventSource": source, "eventName": name, "requestParameters": params, "awsRegion": region,
           "eventTime": when, "recipientAccountId": ACCOUNT}
    if resources:
        out["resources"] = resources
    if error:
        out["errorCode"] = error
    return out


def inline(*statements):
    return {"type": "inline", "name": "p", "document": {"Version": "2012-10-17", "Statement": list(statements)}}


def allow(actions, resource="*"):
    return {"Effect": "Allow", "Action": actions, "Resource": resource}


# ---- resources per event

@pytest.mark.parametrize("event,needed,expected", [
    (ev("s3.amazonaws.com", "GetObject", {"bucketName": "b", "key": "a/b.txt"}), "s3:GetObject",
     ["arn:aws:s3:::b/a/b.txt"]),
    (ev("s3.amazonaws.com", "ListObjectsV2", {"bucketName": "b", "prefix": "a/"}), "s3:ListBucket", ["arn:aws:s3:::b"]),
    (ev("s3.amazonaws.com", "ListBuckets"), "s3:ListAllMyBuckets", ["*"]),
    (ev("sqs.amazonaws.com", "SendMessage", {"queueUrl": "https://sqs.eu-west-1.amazonaws.com/%s/jobs" % ACCOUNT},
        region="eu-west-1"), "sqs:SendMessage", ["arn:aws:sqs:eu-west-1:%s:jobs" % ACCOUNT]),
    (ev("secretsmanager.amazonaws.com", "GetSecretValue", {"secretId": "db/pw"}), "secretsmanager:GetSecretValue",
     ["arn:aws:secretsmanager:us-east-1:%s:secret:db/pw-??????" % ACCOUNT]),
    (ev("secretsmanager.amazonaws.com", "GetSecretValue",
        {"secretId": "arn:aws:secretsmanager:us-east-1:%s:secret:db/pw-AbCdEf" % ACCOUNT}),
     "secretsmanager:GetSecretValue", ["arn:aws:secretsmanager:us-east-1:%s:secret:db/pw-AbCdEf" % ACCOUNT]),
    (ev("kms.amazonaws.com", "Decrypt", None, [{"type": "AWS::KMS::Key", "ARN": "arn:aws:kms:us-east-1:%s:key/k1" % ACCOUNT}]),
     "kms:Decrypt", ["arn:aws:kms:us-east-1:%s:key/k1" % ACCOUNT]),
    (ev("kms.amazonaws.com", "Encrypt", {"keyId": "alias/app"}), "kms:Encrypt",
     ["arn:aws:kms:us-east-1:%s:key/*" % ACCOUNT]),
    (ev("lambda.amazonaws.com", "Invoke", {"functionName": "worker"}), "lambda:InvokeFunction",
     ["arn:aws:lambda:us-east-1:%s:function:worker" % ACCOUNT]),
    (ev("dynamodb.amazonaws.com", "Query", {"tableName": "t", "indexName": "byDate"}), "dynamodb:Query",
     ["arn:aws:dynamodb:us-east-1:%s:table/t/index/byDate" % ACCOUNT]),
    (ev("ssm.amazonaws.com", "GetParameters", {"names": ["/app/a", "b"]}), "ssm:GetParameters",
     ["arn:aws:ssm:us-east-1:%s:parameter/app/a" % ACCOUNT, "arn:aws:ssm:us-east-1:%s:parameter/b" % ACCOUNT]),
    (ev("logs.amazonaws.com", "PutLogEvents", {"logGroupName": "/app/web"}), "logs:PutLogEvents",
     ["arn:aws:logs:us-east-1:%s:log-group:/app/web:*" % ACCOUNT]),
    (ev("ec2.amazonaws.com", "DescribeInstances", {"instancesSet": {}}), "ec2:DescribeInstances", ["*"]),
])
def test_event_resources(event, needed, expected):
    assert event_resources(event, Needed(needed, "target"), ACCOUNT, "aws") == expected


def test_copy_object_source_and_target():
    params = {"bucketName": "dst", "key": "out/x.bin", "x-amz-copy-source": "src/in/x%20y.bin?versionId=3"}
    event = ev("s3.amazonaws.com", "CopyObject", params)
    assert event_resources(event, Needed("s3:GetObject", "copy_source"), ACCOUNT, "aws") == ["arn:aws:s3:::src/in/x y.bin"]
    assert event_resources(event, Needed("s3:PutObject", "target"), ACCOUNT, "aws") == ["arn:aws:s3:::dst/out/x.bin"]
    usage = summarize([event], ACCOUNT, "aws")[0]
    assert narrow_resources(usage["s3:GetObject"]["resources"]) == ["arn:aws:s3:::src/in/*"]
    assert narrow_resources(usage["s3:PutObject"]["resources"]) == ["arn:aws:s3:::dst/out/*"]


def test_delete_objects_keys():
    event = ev("s3.amazonaws.com", "DeleteObjects", {"bucketName": "b", "delete": {"Object": [{"Key": "t/1"}, {"Key": "t/2"}]}})
    assert event_resources(event, Needed("s3:DeleteObject", "target"), ACCOUNT, "aws") == [
        "arn:aws:s3:::b/t/1", "arn:aws:s3:::b/t/2"]


def test_partition_is_kept():
    event = ev("s3.amazonaws.com", "GetObject", {"bucketName": "b", "key": "k"}, region="cn-north-1")
    assert event_resources(event, Needed("s3:GetObject", "target"), ACCOUNT, "aws-cn") == ["arn:aws-cn:s3:::b/k"]


# ---- narrowing

def test_narrow_star_absorbs_everything():
    assert narrow_resources({"*", "arn:aws:s3:::b"}) == ["*"]
    assert narrow_resources(set()) == ["*"]


def test_narrow_keys_to_prefixes_and_drops_covered():
    arns = {"arn:aws:s3:::b/logs/2026/01/a.gz", "arn:aws:s3:::b/logs/2026/01/b.gz", "arn:aws:s3:::b/root.txt",
            "arn:aws:s3:::b/logs/*", "arn:aws:s3:::b"}
    assert narrow_resources(arns) == ["arn:aws:s3:::b", "arn:aws:s3:::b/logs/*", "arn:aws:s3:::b/root.txt"]


def test_narrow_many_prefixes_collapse_to_common_folder():
    arns = {"arn:aws:s3:::b/data/day%02d/x.csv" % d for d in range(MAX_PREFIXES_PER_BUCKET + 1)}
    assert narrow_resources(arns) == ["arn:aws:s3:::b/data/*"]
    few = {"arn:aws:s3:::b/data/day%02d/x.csv" % d for d in range(3)}
    assert len(narrow_resources(few)) == 3


def test_narrow_many_arns_of_one_type_collapse():
    queues = {"arn:aws:sqs:us-east-1:%s:jobs-%03d" % (ACCOUNT, n) for n in range(MAX_RESOURCES_PER_TYPE + 1)}
    other = "arn:aws:sqs:eu-west-1:%s:audit" % ACCOUNT
    assert narrow_resources(queues | {other}) == ["arn:aws:sqs:eu-west-1:%s:audit" % ACCOUNT,
                                                  "arn:aws:sqs:us-east-1:%s:jobs-0*" % ACCOUNT]
    groups = {"arn:aws:logs:us-east-1:%s:log-group:/app/%03d:*" % (ACCOUNT, n) for n in range(MAX_RESOURCES_PER_TYPE + 5)}
    assert narrow_resources(groups) == ["arn:aws:logs:us-east-1:%s:log-group:/app/0*" % ACCOUNT]
    few = set(list(sorted(queues))[:3])
    assert narrow_resources(few) == sorted(few)


# ---- suggestion

def test_suggestion_groups_by_service_and_resources():
    events = [
        ev("sqs.amazonaws.com", "ReceiveMessage", {"queueUrl": "https://sqs.us-east-1.amazonaws.com/%s/q" % ACCOUNT}),
        ev("sqs.amazonaws.com", "DeleteMessageBatch", {"queueUrl": "https://sqs.us-east-1.amazonaws.com/%s/q" % ACCOUNT}),
        ev("s3.amazonaws.com", "GetObject", {"bucketName": "b", "key": "c/app.json"}),
        ev("s3.amazonaws.com", "ListObjectsV2", {"bucketName": "b"}),
        ev("sts.amazonaws.com", "GetCallerIdentity"),
    ]
    usage, unmapped, counts = summarize(events, ACCOUNT, "aws")
    doc = suggest_policy(usage)
    assert doc["Version"] == "2012-10-17"
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    assert by_sid == {
        "S3GetObject": {"Sid": "S3GetObject", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/c/*"},
        "S3ListBucket": {"Sid": "S3ListBucket", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": "arn:aws:s3:::b"},
        "Sqs": {"Sid": "Sqs", "Effect": "Allow", "Action": ["sqs:DeleteMessage", "sqs:ReceiveMessage"],
                "Resource": "arn:aws:sqs:us-east-1:%s:q" % ACCOUNT},
    }
    assert counts == {"mapped": 4, "unmapped": 0, "no_permission": 1, "skipped": 0, "denied": 0}
    assert unmapped == []


def test_nothing_used_gives_no_policy():
    usage = summarize([ev("sts.amazonaws.com", "GetCallerIdentity")], ACCOUNT, "aws")[0]
    assert suggest_policy(usage) is None


def test_denied_only_actions_are_left_out_unless_asked():
    events = [ev("s3.amazonaws.com", "DeleteObject", {"bucketName": "b", "key": "t/x"}, error="AccessDenied"),
              ev("s3.amazonaws.com", "GetObject", {"bucketName": "b", "key": "t/x"})]
    usage, _groups, counts = summarize(events, ACCOUNT, "aws")
    assert counts["denied"] == 1
    assert [s["Action"] for s in suggest_policy(usage)["Statement"]] == [["s3:GetObject"]]
    assert sorted(a for s in suggest_policy(usage, include_denied=True)["Statement"] for a in s["Action"]) == [
        "s3:DeleteObject", "s3:GetObject"]


# ---- comparison

def usage_of(*actions, denied=()):
    return {a: {"calls": 2, "denied": 2 if a in denied else 0, "resources": {"*"}, "last_seen": None} for a in actions}


def test_unused_exact_and_wildcard_grants():
    policies = [inline(allow(["s3:GetObject", "s3:DeleteBucket", "s3:Get*", "dynamodb:*", "SQS:ReceiveMessage"]))]
    out = compare(usage_of("s3:GetObject", "sqs:ReceiveMessage"), policies)
    assert out["unused_granted_actions"] == ["dynamodb:*", "s3:DeleteBucket"]
    assert out["unused_by_policy"] == {"p": ["dynamodb:*", "s3:DeleteBucket"]}
    assert out["wildcard_grants"] == [{"pattern": "s3:Get*", "not_action": [], "policy": "p", "used": ["s3:GetObject"]}]
    assert out["used_not_granted"] == []


def test_used_not_granted_reasons():
    policies = [inline(allow(["s3:*"]), {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
                       allow("kms:Decrypt", "arn:aws:kms:us-east-1:%s:key/k" % ACCOUNT)),
                {"type": "managed", "name": "Other", "arn": "arn:aws:iam::%s:policy/Other" % ACCOUNT,
                 "document": json.dumps({"Version": "2012-10-17", "Statement": [allow("sqs:SendMessage")]})}]
    usage = usage_of("s3:DeleteObject", "s3:GetObject", "kms:Decrypt", "sqs:SendMessage", "sns:Publish",
                     denied=("kms:Decrypt",))
    reasons = {e["action"]: e["reason"] for e in compare(usage, policies)["used_not_granted"]}
    assert reasons["s3:DeleteObject"] == "explicitly denied by p"
    assert reasons["sns:Publish"] == "no attached or inline policy allows it"
    assert "AccessDenied 2 time(s)" in reasons["kms:Decrypt"]
    assert "s3:GetObject" not in reasons and "sqs:SendMessage" not in reasons


def test_conditional_deny_does_not_count_as_denied():
    deny = {"Effect": "Deny", "Action": "s3:*", "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    policies = [inline(allow("s3:*"), deny)]
    assert compare(usage_of("s3:GetObject"), policies)["used_not_granted"] == []


def test_not_action_allow():
    policies = [inline({"Effect": "Allow", "NotAction": ["iam:*"], "Resource": "*"})]
    out = compare(usage_of("s3:GetObject", "iam:PassRole"), policies)
    assert [e["action"] for e in out["used_not_granted"]] == ["iam:PassRole"]
    assert out["wildcard_grants"][0]["used"] == ["s3:GetObject"]
    assert compare({}, policies)["unused_granted_actions"] == ["NotAction:iam:*"]


def test_admin_policy_all_unused_when_nothing_used():
    out = compare({}, [inline(allow("*"))])
    assert out["unused_granted_actions"] == ["*"]


# ---- the fixtures end to end (pure)

def test_fixture_activity_end_to_end():
    events = role_events(make_events(ROLE, ACCOUNT, "us-east-1", days=5, seed=3, now=NOW), ROLE)
    policies = [inline(allow(["s3:Get*", "s3:ListBucket", "dynamodb:*", "sqs:ReceiveMessage", "sqs:DeleteMessage"]))]
    out = analyze(events, policies, ROLE)
    assert set(out["used_actions"]) == EXPECTED_ACTIONS
    assert out["unused_granted_actions"] == ["dynamodb:*"]
    not_granted = {e["action"] for e in out["used_not_granted"]}
    assert "s3:DeleteObject" in not_granted and "kms:Decrypt" in not_granted and "s3:GetObject" not in not_granted
    suggested = {a for s in out["suggested_policy"]["Statement"] for a in s["Action"]}
    assert suggested == EXPECTED_ACTIONS - {"s3:DeleteObject"}  # only ever denied
    assert out["unmapped_events"] == [{"event_source": "ec2-instance-connect.amazonaws.com",
                                       "event_name": "SendSSHPublicKey", "count": 5, "denied": 0,
                                       "reason": "unknown event source 'ec2-instance-connect.amazonaws.com'"}]
    assert out["event_counts"]["no_permission"] > 0  # GetCallerIdentity
    assert out["suggested_policy_size"] == len(json.dumps(out["suggested_policy"], separators=(",", ":")))
    # what it suggests is a permissions policy IAM accepts (the checks iam_role and iam_managed_policy make)
    assert parse_policy(out["suggested_policy"], "suggested_policy", "permissions") == out["suggested_policy"]
    s3_resources = {r for s in out["suggested_policy"]["Statement"] if s["Sid"].startswith("S3")
                    for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])}
    assert "arn:aws:s3:::app-data-%s/config/*" % ACCOUNT in s3_resources
    assert "*" not in s3_resources


def test_fixture_names_change_the_resources():
    names = {"bucket": "my-app-data", "queue": "my-app-queue", "secret": "my-app/db"}
    events = role_events(make_events(ROLE, ACCOUNT, "us-east-1", days=1, seed=1, now=NOW, names=names), ROLE)
    resources = {r for entry in analyze(events, [], ROLE)["action_usage"] for r in entry["resources"]}
    assert "arn:aws:s3:::my-app-data" in resources
    assert "arn:aws:sqs:us-east-1:%s:my-app-queue" % ACCOUNT in resources
    assert "arn:aws:secretsmanager:us-east-1:%s:secret:my-app/db-??????" % ACCOUNT in resources
    assert not any("app-data-" in r for r in resources)


# ---- never suggest an escalation path

def test_escalation_actions_are_withheld_and_reported():
    events = [
        ev("s3.amazonaws.com", "GetObject", {"bucketName": "b", "key": "k"}),
        # the role wrote an inline policy (CloudTrail names no resource for IAM calls: "*") and assumed a role
        ev("iam.amazonaws.com", "PutRolePolicy", {"roleName": "app-role", "policyName": "x"}),
        ev("iam.amazonaws.com", "GetRole", {"roleName": "app-role"}),
        ev("sts.amazonaws.com", "AssumeRole", {"roleArn": "arn:aws:iam::%s:role/reader" % ACCOUNT}),
        ev("sts.amazonaws.com", "AssumeRole", {"roleSessionName": "s"}),
    ]
    out = analyze(events, [], ROLE)
    actions = [a for s in out["suggested_policy"]["Statement"] for a in s["Action"]]
    assert "iam:PutRolePolicy" not in actions and "iam:GetRole" in actions and "s3:GetObject" in actions
    # one AssumeRole named no role, so the action's resources narrow to "*": withheld
    assert "sts:AssumeRole" not in actions
    withheld = dict((w["action"], w) for w in out["withheld_actions"])
    assert sorted(withheld) == ["iam:PutRolePolicy", "sts:AssumeRole"]
    assert withheld["iam:PutRolePolicy"]["resources"] == ["*"]
    assert withheld["iam:PutRolePolicy"]["paths"] == ["inline policy write"]
    assert "'iam:PutRolePolicy' on Resource '*'" in withheld["iam:PutRolePolicy"]["reason"]
    assert withheld["sts:AssumeRole"]["paths"] == ["role assumption"]
    # AssumeRole of named roles only is scoped: suggested as it is
    scoped = analyze(events[:1] + events[3:4], [], ROLE)
    assert scoped["withheld_actions"] == []
    assert {"Sid": "Sts", "Effect": "Allow", "Action": ["sts:AssumeRole"],
            "Resource": "arn:aws:iam::%s:role/reader" % ACCOUNT} in scoped["suggested_policy"]["Statement"]


def test_writes_to_the_role_itself_are_withheld_even_when_named():
    from ansible_collections.keyless.aws.plugins.module_utils.activity.suggested_policy import withhold_escalations
    policy = {"Version": "2012-10-17", "Statement": [
        allow(["iam:AttachRolePolicy", "iam:GetRole"], ROLE),
        allow("iam:AttachRolePolicy", "arn:aws:iam::%s:role/worker" % ACCOUNT)]}
    kept, withheld = withhold_escalations(policy, ROLE)
    assert kept["Statement"] == [allow(["iam:GetRole"], ROLE),
                                 allow("iam:AttachRolePolicy", "arn:aws:iam::%s:role/worker" % ACCOUNT)]
    assert [(w["action"], w["resources"]) for w in withheld] == [("iam:AttachRolePolicy", [ROLE])]
    assert "includes this role itself (role/app/app-role)" in withheld[0]["reason"]
    only = {"Version": "2012-10-17", "Statement": [allow("iam:PassRole")]}
    assert withhold_escalations(only, ROLE)[0] is None
    assert withhold_escalations(None, ROLE) == (None, [])
