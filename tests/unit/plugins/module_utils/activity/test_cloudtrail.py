"""cloudtrail: log files from moto S3 and a local directory, LookupEvents through the Stubber, pacing,
and a throttled LookupEvents page retried by botocore."""

from __future__ import annotations

import datetime
import gzip
import json

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.stub import Stubber
from moto import mock_aws

from ansible_collections.keyless.aws.plugins.module_utils.activity import cloudtrail
from ansible_collections.keyless.aws.plugins.module_utils.activity.cloudtrail import (
    Collected,
    TrailError,
    collect_events,
    day_prefixes,
    event_matches_role,
    lookup_events,
    parse_log_bytes,
    role_key,
    trail_root,
    window,
)
from ansible_collections.keyless.aws.plugins.module_utils.aws.rate_limit import TokenBucket
from tests.support.activity_fixtures import lookup_pages, make_events, role_events, write_log_files
from tests.support.fake_clock import FakeClock

ACCOUNT = "123456789012"
ROLE = "arn:aws:iam::%s:role/app/app-role" % ACCOUNT
NOW = datetime.datetime(2026, 12, 1, 8, 0, tzinfo=datetime.timezone.utc)
CREDS = dict(region_name="us-east-1", aws_access_key_id="AKIAFAKE", aws_secret_access_key="fake")


# ---- pure helpers

def test_role_key_matches_role_and_assumed_role_arns():
    assert role_key(ROLE) == ("aws", ACCOUNT, "app-role")
    assert role_key("arn:aws:sts::%s:assumed-role/App-Role/i-0abc" % ACCOUNT) == ("aws", ACCOUNT, "app-role")
    assert role_key("arn:aws:iam::%s:user/alice" % ACCOUNT) is None
    key = role_key(ROLE)
    assumed_only = {"userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::%s:assumed-role/app-role/s" % ACCOUNT}}
    other_account = {"userIdentity": {"arn": "arn:aws:sts::210987654321:assumed-role/app-role/s"}}
    issuer = {"userIdentity": {"sessionContext": {"sessionIssuer": {"arn": ROLE}}}}
    assert event_matches_role(assumed_only, key) and event_matches_role(issuer, key)
    assert not event_matches_role(other_account, key) and not event_matches_role({}, key)


def test_day_prefixes_cover_window_newest_first():
    start, end = window(2, now=datetime.datetime(2026, 12, 1, 23, 50, tzinfo=datetime.timezone.utc))
    # the 30-minute delivery margin reaches into 2 December
    assert day_prefixes(start, end) == ["2026/12/02/", "2026/12/01/", "2026/11/30/", "2026/11/29/"]


def test_trail_root_layouts():
    assert trail_root("", ACCOUNT) == "AWSLogs/%s/CloudTrail/" % ACCOUNT
    assert trail_root("trails/main/", ACCOUNT) == "trails/main/AWSLogs/%s/CloudTrail/" % ACCOUNT
    assert trail_root("x/AWSLogs", ACCOUNT, "o-abcdefghij") == "x/AWSLogs/o-abcdefghij/%s/CloudTrail/" % ACCOUNT


def test_parse_log_bytes():
    data = gzip.compress(json.dumps({"Records": [{"eventName": "X"}]}).encode())
    assert parse_log_bytes(data, "f") == [{"eventName": "X"}]
    assert parse_log_bytes(b'{"Records": []}', "f") == []
    with pytest.raises(TrailError, match="bad.json.gz is not a CloudTrail log file"):
        parse_log_bytes(b"\x1f\x8bnot gzip", "bad.json.gz")
    with pytest.raises(TrailError, match="no Records list"):
        parse_log_bytes(b'{"foo": 1}', "f")


def pacer(fake):
    """The LookupEvents bucket (cloudtrail.lookup_bucket) on a fake clock, without the network guard."""
    return TokenBucket(1, cloudtrail.LOOKUP_EVENTS_RATE, clock=fake.clock, sleep=fake.sleep, guard=0)


def test_lookup_bucket_spaces_calls_half_a_second():
    assert (cloudtrail.lookup_bucket().capacity, cloudtrail.lookup_bucket().refill) == (1, 2.0)
    fake = FakeClock(100.0)
    bucket = pacer(fake)
    for _n in range(4):
        bucket.acquire()
    assert fake.sleeps == [0.5, 0.5, 0.5]
    fake.now += 10  # idle time is not saved up for a burst beyond the next call
    bucket.acquire()
    bucket.acquire()
    assert fake.sleeps == [0.5, 0.5, 0.5, 0.5]


# ---- log files in moto S3

def _listing_prefixes(client):
    seen = []
    client.meta.events.register("provide-client-params.s3.ListObjectsV2",
                                lambda params, **kw: seen.append((params.get("Prefix"), params.get("Delimiter"))))
    return seen


@mock_aws
def test_s3_log_files_window_role_and_prefixes():
    s3 = boto3.client("s3", **CREDS)
    s3.create_bucket(Bucket="trail-logs")
    inside = write_log_files(s3, "trail-logs", ACCOUNT, "us-east-1", ROLE, days=3, seed=1, prefix="org/main", now=NOW)
    west = write_log_files(s3, "trail-logs", ACCOUNT, "eu-west-1", ROLE, days=2, seed=2, prefix="org/main",
                           now=NOW, events=make_events(ROLE, ACCOUNT, "eu-west-1", days=1, seed=2, now=NOW))
    old = NOW - datetime.timedelta(days=40)
    write_log_files(s3, "trail-logs", ACCOUNT, "us-east-1", ROLE, days=1, seed=9, prefix="org/main", now=old)
    s3.put_object(Bucket="trail-logs", Key="unrelated/big-file.json.gz", Body=b"x")
    seen = _listing_prefixes(s3)
    start, end = window(7, now=NOW)
    got = collect_events(lambda service, region: s3, "s3", ROLE, start, end, s3_bucket="trail-logs",
                         s3_prefix="org/main")
    expected = role_events(inside["events"], ROLE) + role_events(west["events"], ROLE)
    assert sorted(e["eventID"] for e in got.events) == sorted(e["eventID"] for e in expected)
    assert got.regions == ["eu-west-1", "us-east-1"]
    assert got.files == len(inside["files"]) + len(west["files"])  # the 40-day-old files were never fetched
    assert got.read == len(inside["events"]) + len(west["events"])
    assert not got.truncated
    root = "org/main/AWSLogs/%s/CloudTrail/" % ACCOUNT
    assert seen[0] == (root, "/")  # one delimited listing finds the regions
    day_listings = [p for p, d in seen[1:]]
    assert len(day_listings) == 2 * len(day_prefixes(start, end))
    assert all(p.startswith(root) and p[len(root):].split("/", 1)[1] in day_prefixes(start, end) for p in day_listings)


@mock_aws
def test_s3_given_regions_and_max_events_truncates_newest_first():
    s3 = boto3.client("s3", **CREDS)
    s3.create_bucket(Bucket="trail-logs")
    written = write_log_files(s3, "trail-logs", ACCOUNT, "us-east-1", ROLE, days=2, seed=1, now=NOW)
    write_log_files(s3, "trail-logs", ACCOUNT, "eu-west-1", ROLE, days=1, seed=4, now=NOW)
    start, end = window(7, now=NOW)
    got = collect_events(lambda service, region: s3, "s3", ROLE, start, end, regions=["us-east-1"],
                         s3_bucket="trail-logs", max_events=30)
    assert got.regions == ["us-east-1"]
    assert got.read == 30 and got.truncated
    newest = max(e["eventTime"] for e in role_events(written["events"], ROLE))
    assert max(e["eventTime"] for e in got.events) == newest
    assert {e["awsRegion"] for e in got.events} == {"us-east-1"}


@mock_aws
def test_s3_bucket_missing_is_a_client_error():
    s3 = boto3.client("s3", **CREDS)
    start, end = window(1, now=NOW)
    with pytest.raises(Exception) as info:
        collect_events(lambda service, region: s3, "s3", ROLE, start, end, s3_bucket="nope")
    assert "NoSuchBucket" in str(info.value)


# ---- local directory

def test_local_layout_directory(tmp_path):
    written = write_log_files(str(tmp_path), None, ACCOUNT, "us-east-1", ROLE, days=3, seed=5, now=NOW)
    write_log_files(str(tmp_path), None, ACCOUNT, "us-east-1", ROLE, days=1, seed=6,
                    now=NOW - datetime.timedelta(days=30))
    start, end = window(3, now=NOW)
    got = collect_events(None, "local", ROLE, start, end, local_path=str(tmp_path))
    assert got.regions == ["us-east-1"]
    assert sorted(e["eventID"] for e in got.events) == sorted(e["eventID"] for e in role_events(written["events"], ROLE))
    assert got.files == len(written["files"])


def test_local_flat_directory_of_files(tmp_path):
    events = make_events(ROLE, ACCOUNT, "us-east-1", days=2, seed=7, now=NOW)
    (tmp_path / "a.json.gz").write_bytes(gzip.compress(json.dumps({"Records": events[:10]}).encode()))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.json").write_text(json.dumps({"Records": events[10:]}))
    (tmp_path / "notes.txt").write_text("not a log")
    start, end = window(2, now=NOW)
    got = collect_events(None, "local", ROLE, start, end, local_path=str(tmp_path))
    assert got.files == 2
    assert len(got.events) == len(role_events(events, ROLE))


def test_local_path_must_be_a_directory(tmp_path):
    start, end = window(1, now=NOW)
    with pytest.raises(TrailError, match="is not a directory"):
        collect_events(None, "local", ROLE, start, end, local_path=str(tmp_path / "missing"))


# ---- LookupEvents with the Stubber

def _stubbed_lookup(pages, start, end):
    client = boto3.client("cloudtrail", **CREDS)
    stub = Stubber(client)
    for index, page in enumerate(pages):
        expected = {"StartTime": start, "EndTime": end, "MaxResults": 50}
        if index:
            expected["NextToken"] = pages[index - 1]["NextToken"]
        stub.add_response("lookup_events", page, expected)
    stub.activate()
    return client, stub


def test_lookup_events_paginates_filters_and_paces():
    events = make_events(ROLE, ACCOUNT, "us-east-1", days=6, seed=8, now=NOW)
    pages = lookup_pages(events, page_size=50)
    assert len(pages) >= 3 and "NextToken" in pages[0]
    start, end = window(6, now=NOW)
    client, stub = _stubbed_lookup(pages, start, end)
    fake = FakeClock(100.0)
    got = collect_events(lambda service, region: client, "lookup_events", ROLE, start, end, regions=["us-east-1"],
                         pacer_factory=lambda: pacer(fake))
    stub.assert_no_pending_responses()
    assert got.api_calls == len(pages)
    assert fake.sleeps == [0.5] * (len(pages) - 1)  # 2 calls per second
    assert sorted(e["eventID"] for e in got.events) == sorted(e["eventID"] for e in role_events(events, ROLE))
    assert got.read == len(events) and not got.truncated
    assert [e["eventTime"] for e in got.events] == sorted(e["eventTime"] for e in got.events)


def test_lookup_events_stops_at_max_events():
    events = make_events(ROLE, ACCOUNT, "us-east-1", days=3, seed=8, now=NOW)
    pages = lookup_pages(events, page_size=50)
    start, end = window(3, now=NOW)
    client, stub = _stubbed_lookup(pages[:2], start, end)
    fake = FakeClock(100.0)
    got = collect_events(lambda service, region: client, "lookup_events", ROLE, start, end, regions=["us-east-1"],
                         max_events=60, pacer_factory=lambda: pacer(fake))
    stub.assert_no_pending_responses()  # the third page was never asked for
    assert got.read == 60 and got.truncated and got.api_calls == 2


def test_lookup_events_window_filter_drops_events_outside():
    events = make_events(ROLE, ACCOUNT, "us-east-1", days=1, seed=8, now=NOW)
    stale = dict(events[-1], eventID="stale", eventTime="2020-01-01T00:00:00Z")
    pages = lookup_pages(events + [stale], page_size=500)
    start, end = window(1, now=NOW)
    client, _stub = _stubbed_lookup(pages, start, end)
    got = Collected(role_key(ROLE), start, end, None)
    lookup_events(client, got, pacer(FakeClock(100.0)), "us-east-1")
    assert "stale" not in {e["eventID"] for e in got.events}


# ---- a throttled page is retried by botocore (answered at the HTTP layer: the Stubber short-circuits
# botocore before its retry handler, so a stubbed throttle would never be retried)

class _Raw:
    def __init__(self, body):
        self.body = body

    def stream(self, **_kw):
        yield self.body


def _http(status, body):
    return AWSResponse("https://cloudtrail.us-east-1.amazonaws.com/", status,
                       {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "r"},
                       _Raw(json.dumps(body).encode()))


def test_lookup_events_throttle_is_retried(monkeypatch):
    events = make_events(ROLE, ACCOUNT, "us-east-1", days=3, seed=10, now=NOW)
    pages = [json.loads(json.dumps(p, default=lambda d: d.timestamp())) for p in lookup_pages(events, page_size=50)]
    answers = [_http(400, {"__type": "ThrottlingException", "message": "Rate exceeded"})]
    answers += [_http(200, pages[0]), _http(400, {"__type": "ThrottlingException", "message": "Rate exceeded"})]
    answers += [_http(200, p) for p in pages[1:]]
    sent = []

    def answer(request, **_kw):
        sent.append(json.loads(request.body or b"{}"))
        return answers.pop(0)

    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda s: None)  # botocore's backoff, not our pacer
    client = boto3.client("cloudtrail", config=Config(retries={"mode": "standard", "total_max_attempts": 3}), **CREDS)
    client.meta.events.register("before-send.cloudtrail.LookupEvents", answer)
    start, end = window(3, now=NOW)
    fake = FakeClock(100.0)
    got = collect_events(lambda service, region: client, "lookup_events", ROLE, start, end, regions=["us-east-1"],
                         pacer_factory=lambda: pacer(fake))
    assert answers == []
    assert len(sent) == len(pages) + 2  # two throttled attempts retried
    assert sent[0] == sent[1] and sent[2].get("NextToken") == pages[0]["NextToken"] == sent[3]["NextToken"]
    assert got.api_calls == len(pages)
    assert sorted(e["eventID"] for e in got.events) == sorted(e["eventID"] for e in role_events(events, ROLE))


def test_lookup_events_throttle_beyond_retries_raises(monkeypatch):
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda s: None)
    client = boto3.client("cloudtrail", config=Config(retries={"mode": "standard", "total_max_attempts": 2}), **CREDS)
    client.meta.events.register("before-send.cloudtrail.LookupEvents",
                                lambda **kw: _http(400, {"__type": "ThrottlingException", "message": "Rate exceeded"}))
    start, end = window(1, now=NOW)
    with pytest.raises(Exception, match="ThrottlingException"):
        collect_events(lambda s, r: client, "lookup_events", ROLE, start, end, regions=["us-east-1"],
                       pacer_factory=lambda: pacer(FakeClock(100.0)))


def test_unknown_source_and_bad_role():
    start, end = window(1, now=NOW)
    with pytest.raises(TrailError, match="not a role ARN"):
        collect_events(None, "local", "arn:aws:iam::%s:user/u" % ACCOUNT, start, end, local_path=".")
    with pytest.raises(TrailError, match="unknown source"):
        collect_events(None, "ftp", ROLE, start, end)


def test_module_constants():
    assert cloudtrail.LOOKUP_EVENTS_RATE == 2.0 and cloudtrail.LOOKUP_MAX_DAYS == 90
