"""iam_access_key and iam_access_key_info in-process under moto's mock_aws: validation before any AWS call, the
observe / plan / apply / report path, check mode, diff, and never a secret or a full key id in a result."""

from __future__ import annotations

import datetime
import json

import boto3
import pytest
from moto import mock_aws

from ansible_collections.keyless.aws.plugins.module_utils.aws import connection
from ansible_collections.keyless.aws.plugins.modules import iam_access_key, iam_access_key_info
from tests.support.module_runner import run_module
from tests.support.moto_iam_keys import fix_iam_keys, set_key_history

pytestmark = pytest.mark.usefixtures("shared_botocore_loader")
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)  # what the modules read as now


@pytest.fixture
def aws(monkeypatch):
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CA_BUNDLE"):
        monkeypatch.delenv(key, raising=False)
    fix_iam_keys()
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_user(UserName="app")
        keys = [iam.create_access_key(UserName="app")["AccessKey"] for _n in range(2)]
        set_key_history(keys[0]["AccessKeyId"], created=NOW - datetime.timedelta(days=100),
                        last_used=NOW - datetime.timedelta(days=60), service="sqs", region="eu-west-1")
        set_key_history(keys[1]["AccessKeyId"], created=NOW - datetime.timedelta(days=100),
                        last_used=NOW - datetime.timedelta(days=2), service="s3", region="eu-west-1")
        yield iam, keys


def masked(key):
    return "%s...%s" % (key["AccessKeyId"][:4], key["AccessKeyId"][-4:])


def clean(result, keys):
    """No secret anywhere; no full id in what the module reports (the invocation echoes the task's own input)."""
    text = json.dumps({k: v for k, v in result.items() if k != "invocation"})
    for key in keys:
        assert key["SecretAccessKey"] not in text and key["AccessKeyId"] not in text, text


def status(iam, key):
    return {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName="app")["AccessKeyMetadata"]}.get(
        key["AccessKeyId"])


def test_info_lists_every_key_masked_with_its_last_use(aws):
    iam, keys = aws
    result = run_module(iam_access_key_info.main, {})
    assert not result.failed, result
    assert {k["access_key_id"] for k in result["keys"]} == {masked(k) for k in keys}
    by_id = {k["access_key_id"]: k for k in result["keys"]}
    assert by_id[masked(keys[0])]["last_used"]["days_ago"] == 60 and by_id[masked(keys[0])]["last_used"]["service"] == "sqs"
    assert by_id[masked(keys[1])]["age_days"] == 100
    assert result["users"] == [{"user_name": "app", "keys": [k["access_key_id"] for k in result["keys"]], "active_keys": 2}]
    assert result["counts"]["keys"] == 2 and result["instances"] == []
    clean(result, keys)


def test_info_missing_user(aws):
    assert "no IAM user ghost" in run_module(iam_access_key_info.main, {"user_names": ["ghost"]})["msg"]
    result = run_module(iam_access_key_info.main, {"user_names": ["ghost", "app"], "ignore_missing": True})
    assert result["missing_users"] == ["ghost"] and result["counts"]["keys"] == 2


def test_deactivate_check_mode_diff_then_apply_then_rerun(aws):
    iam, keys = aws
    args = {"user": "app", "access_key_id": masked(keys[0]), "quiet_days": 30}
    check = run_module(iam_access_key.main, args, check_mode=True, diff=True)
    assert check.changed and check["diff"] == {"before": {"status": "Active", "inactive_since": None},
                                               "after": {"status": "Inactive", "inactive_since": check["key"]["inactive_since"]}}
    assert status(iam, keys[0]) == "Active" and not iam.list_user_tags(UserName="app")["Tags"]
    done = run_module(iam_access_key.main, args)
    assert done.changed and [c["operation"] for c in done["changes"]] == ["UpdateAccessKey", "TagUser"]
    assert status(iam, keys[0]) == "Inactive"
    tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName="app")["Tags"]}
    assert list(tags) == ["keyless:key-inactive:%s" % masked(keys[0])]
    again = run_module(iam_access_key.main, args)
    assert not again.changed and again["changes"] == []
    clean(check, keys), clean(done, keys), clean(again, keys)


def test_recently_used_key_is_refused_with_its_last_use(aws):
    iam, keys = aws
    result = run_module(iam_access_key.main, {"user": "app", "access_key_id": keys[1]["AccessKeyId"]})
    assert result.failed and not result.changed
    assert "last used" in result["msg"] and "(s3, eu-west-1)" in result["msg"] and "2 day(s) ago" in result["msg"]
    assert status(iam, keys[1]) == "Active"
    clean(result, keys)


def test_reactivate_and_delete_rules(aws):
    iam, keys = aws
    key = {"user": "app", "access_key_id": masked(keys[0])}
    run_module(iam_access_key.main, dict(key, quiet_days=30))
    early = run_module(iam_access_key.main, dict(key, state="absent", inactive_days=30))
    assert early.failed and "inactive_days=30" in early["msg"] and status(iam, keys[0]) == "Inactive"
    back = run_module(iam_access_key.main, dict(key, state="active"))
    assert back.changed and status(iam, keys[0]) == "Active" and not iam.list_user_tags(UserName="app")["Tags"]
    run_module(iam_access_key.main, dict(key, quiet_days=30))
    forced = run_module(iam_access_key.main, dict(key, state="absent", force=True))
    assert forced.changed and status(iam, keys[0]) is None and forced["key"]["status"] is None
    gone = run_module(iam_access_key.main, dict(key, state="absent", access_key_id=keys[0]["AccessKeyId"]))
    assert not gone.changed and gone["key"] is None
    clean(forced, keys)


def test_unknown_user_and_unknown_masked_key(aws):
    assert "no IAM user ghost" in run_module(iam_access_key.main, {"user": "ghost", "access_key_id": "AKIA...ABCD"})["msg"]
    result = run_module(iam_access_key.main, {"user": "app", "access_key_id": "AKIA...ZZZZ", "state": "active"})
    assert result.failed and "matches none" in result["msg"]


SECRET_LIKE = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize("module, args, fragment", [
    (iam_access_key, {"user": "app", "access_key_id": SECRET_LIKE}, "<40 characters, not shown>"),
    (iam_access_key, {"user": "a b", "access_key_id": "AKIA...ABCD"}, "user='a b' is not an IAM user name"),
    (iam_access_key, {"user": "app", "access_key_id": "AKIA12"}, "access_key_id='AKIA12' is not an access key id"),
    (iam_access_key, {"user": "app", "access_key_id": "ASIAIOSFODNN7EXAMPLE"}, "temporary (STS) key"),
    (iam_access_key, {"user": "app", "access_key_id": "AKIA...ABCD", "quiet_days": -1}, "quiet_days=-1 is out of range"),
    (iam_access_key, {"user": "app", "access_key_id": "AKIA...ABCD", "force": True}, "force=true only"),
    (iam_access_key, {"user": "app", "access_key_id": "AKIA...ABCD", "since": "2026-11-01T00:00:00Z"},
     "needs a CloudTrail source"),
    (iam_access_key, {"user": "app", "access_key_id": "AKIA...ABCD", "since": "last week", "source": "local",
                      "local_path": "/tmp"}, "since='last week' is not a time"),
    (iam_access_key, {"user": "app", "access_key_id": "AKIA...ABCD", "state": "active", "source": "s3", "s3_bucket": "b"},
     "only used with state=inactive"),
    (iam_access_key, {"user": "app", "access_key_id": "AKIA...ABCD", "source": "s3"}, "source=s3 needs s3_bucket"),
    (iam_access_key, {"user": "app", "access_key_id": "AKIA...ABCD", "tags": {"Fleet": "web"}}, "need a CloudTrail source"),
    (iam_access_key_info, {"user_names": ["no spaces please"]}, "is not an IAM user name"),
    (iam_access_key_info, {"tags": {"Fleet": "web"}}, "set activity=true"),
    (iam_access_key_info, {"activity": True}, "the selector is empty"),
    (iam_access_key_info, {"activity": True, "all_instances": True, "days": 91}, "days=91 is out of range"),
    (iam_access_key_info, {"activity": True, "all_instances": True, "source": "local"}, "source=local needs local_path"),
])
def test_bad_input_fails_before_any_aws_call(monkeypatch, module, args, fragment):
    def no_session(*a, **kw):
        raise AssertionError("an AWS session was created before validation finished")

    monkeypatch.setattr(connection.boto3.session, "Session", no_session)
    result = run_module(module.main, args)
    assert result.failed and fragment in result["msg"], result["msg"]
    # a secret pasted into access_key_id by mistake is not echoed by the module (Ansible's invocation echoes the input)
    assert SECRET_LIKE not in json.dumps({k: v for k, v in result.items() if k != "invocation"})
