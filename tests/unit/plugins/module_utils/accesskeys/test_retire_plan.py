"""retire_plan.plan_key: pure table tests, no AWS."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.accesskeys import retire_plan
from ansible_collections.keyless.aws.plugins.module_utils.accesskeys.keys import key_record
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import PlanError

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)
KEY_ID = "AKIAIOSFODNN7EXAMPLE"
TAG = "keyless:key-inactive:AKIA...MPLE"


def days_ago(n):
    return NOW - datetime.timedelta(days=n)


def key(status="Active", created=400, used=None, service="s3"):
    meta = {"UserName": "app", "AccessKeyId": KEY_ID, "Status": status, "CreateDate": days_ago(created)}
    answer = {"AccessKeyLastUsed": {"LastUsedDate": days_ago(used), "ServiceName": service, "Region": "eu-west-1"}
              if used is not None else {"ServiceName": "N/A", "Region": "N/A"}}
    return key_record(meta, answer, NOW)


def desired(state="inactive", quiet_days=30, inactive_days=30, force=False):
    return {"state": state, "quiet_days": quiet_days, "inactive_days": inactive_days, "force": force}


def observed(k, inactive_since=None, trail=None):
    return {"key": k, "inactive_since": inactive_since, "trail": trail}


def trail(calls, when=None, instance="i-0123456789abcdef0", truncated=False):
    last = {"when": when or days_ago(2), "event_source": "s3.amazonaws.com", "event_name": "GetObject",
            "source_ip": "10.0.1.5", "instance_id": instance} if calls else None
    return {"since": days_ago(30), "calls": calls, "last_event": last, "truncated": truncated}


DEACTIVATE = ["UpdateAccessKey", "TagUser"]


@pytest.mark.parametrize("case, desired_, observed_, operations", [
    ("used 40 days ago, quiet for 30: deactivate and record", desired(), observed(key(used=40)), DEACTIVATE),
    ("never used, created 400 days ago", desired(), observed(key(used=None)), DEACTIVATE),
    ("used exactly at the threshold", desired(), observed(key(used=30)), DEACTIVATE),
    ("quiet_days 0 takes a key used a minute ago", desired(quiet_days=0), observed(key(used=0)), DEACTIVATE),
    ("CloudTrail found nothing", desired(), observed(key(used=40), trail=trail(0)), DEACTIVATE),
    ("already inactive with its date: nothing", desired(), observed(key("Inactive", used=40), days_ago(3).isoformat()), []),
    ("inactive by hand, no date: the clock starts", desired(), observed(key("Inactive", used=40)), ["TagUser"]),
    ("reactivate and drop the date", desired("active"), observed(key("Inactive"), "2026-12-01T00:00:00Z"),
     ["UpdateAccessKey", "UntagUser"]),
    ("reactivate a key deactivated by hand", desired("active"), observed(key("Inactive")), ["UpdateAccessKey"]),
    ("active already: nothing", desired("active"), observed(key("Active", used=1)), []),
    ("active with a stale date: drop it", desired("active"), observed(key("Active"), "2026-12-01T00:00:00Z"),
     ["UntagUser"]),
    ("delete after 31 days inactive", desired("absent"), observed(key("Inactive"), days_ago(31).isoformat()),
     ["DeleteAccessKey", "UntagUser"]),
    ("delete forced without a date", desired("absent", force=True), observed(key("Inactive")), ["DeleteAccessKey"]),
    ("delete forced before inactive_days", desired("absent", force=True), observed(key("Inactive"), days_ago(1).isoformat()),
     ["DeleteAccessKey", "UntagUser"]),
    ("delete a key already gone", desired("absent"), observed(None), []),
    ("inactive again after a reactivation outside: the clock restarts", desired(),
     observed(key("Inactive", used=1), days_ago(59).isoformat()), ["TagUser"]),
])
def test_plans(case, desired_, observed_, operations):
    plan = retire_plan.plan_key(desired_, observed_, NOW)
    assert [c.operation for c in plan] == operations, case


@pytest.mark.parametrize("case, desired_, observed_, words", [
    ("used 2 days ago", desired(), observed(key(used=2)), ["last used", "2 day(s) ago", "(s3, eu-west-1)", "quiet_days=30"]),
    ("never used but new", desired(), observed(key(created=5)), ["never used", "created", "5 day(s) ago"]),
    ("CloudTrail calls since `since`", desired(quiet_days=0), observed(key(used=40), trail=trail(3)),
     ["3 call(s) recorded by CloudTrail", "s3.amazonaws.com GetObject", "10.0.1.5", "i-0123456789abcdef0"]),
    ("CloudTrail read cut short", desired(), observed(key(used=40), trail=trail(0, truncated=True)), ["max_events"]),
    ("delete an active key", desired("absent"), observed(key("Active", used=100)), ["is Active", "state=inactive"]),
    ("delete forced, still active", desired("absent", force=True), observed(key("Active")), ["is Active"]),
    ("delete without a date", desired("absent"), observed(key("Inactive")), ["no valid", TAG, "force=true"]),
    ("delete with a date that is no date", desired("absent"), observed(key("Inactive"), "yesterday"), ["no valid", "'yesterday'"]),
    ("delete too early", desired("absent"), observed(key("Inactive"), days_ago(10).isoformat()),
     ["inactive since", "10 day(s)", "inactive_days=30"]),
    ("activate a key that is not there", desired("active"), observed(None), ["not one of the user's keys"]),
    ("a user with IAM's 50 tags", desired(), dict(observed(key(used=40)), user_tag_count=50), ["50 tags", "remove a tag"]),
    ("delete a key used after its recorded date (reactivated outside, then off again)", desired("absent"),
     observed(key("Inactive", used=1), days_ago(59).isoformat()), ["active again", "restart the clock"]),
])
def test_refusals(case, desired_, observed_, words):
    with pytest.raises(PlanError) as info:
        retire_plan.plan_key(desired_, observed_, NOW)
    for word in words:
        assert word in str(info.value), (case, str(info.value))
    assert KEY_ID not in str(info.value)  # the key is named by its masked id


def test_calls_carry_the_full_id_and_report_the_masked_one():
    plan = retire_plan.plan_key(desired(), observed(key(used=40)), NOW)
    update, tag = plan.changes
    assert update.params == {"UserName": "app", "AccessKeyId": KEY_ID, "Status": "Inactive"}
    assert tag.params == {"UserName": "app", "Tags": [{"Key": TAG, "Value": "2026-12-07T12:00:00Z"}]}
    assert KEY_ID not in str(plan.as_list())
    assert plan.as_list()[0] == {"action": "update_access_key", "operation": "UpdateAccessKey", "target": "AKIA...MPLE",
                                 "before": "Active", "after": "Inactive"}
    assert retire_plan.predicted(observed(key(used=40)), plan) == {"status": "Inactive",
                                                                   "inactive_since": "2026-12-07T12:00:00Z"}


def test_delete_is_gone_ok_and_predicted_gone():
    obs = observed(key("Inactive"), days_ago(40).isoformat())
    plan = retire_plan.plan_key(desired("absent"), obs, NOW)
    assert plan.changes[0].gone_ok and plan.changes[0].params == {"UserName": "app", "AccessKeyId": KEY_ID}
    assert plan.changes[1].params == {"UserName": "app", "TagKeys": [TAG]}
    assert retire_plan.predicted(obs, plan) == {"status": None, "inactive_since": None}
