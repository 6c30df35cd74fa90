"""CloudWatch MetadataNoToken sums: query shape, 500 per call, NextToken, and against moto."""

from __future__ import annotations

import datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from ansible_collections.keyless.aws.plugins.module_utils.fleet import imdsv1_usage as usage

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.timezone.utc)


def test_window_is_one_period():
    start, end, period = usage.window(14, NOW)
    assert end == NOW and end - start == datetime.timedelta(days=14)
    assert period == 14 * 86400 and period % 60 == 0 and period % 3600 == 0


def test_metric_queries_shape():
    q = usage.metric_queries(["i-1", "i-2"], 86400)
    assert [x["Id"] for x in q] == ["q0", "q1"]
    assert q[1]["MetricStat"] == {"Metric": {"Namespace": "AWS/EC2", "MetricName": "MetadataNoToken",
                                             "Dimensions": [{"Name": "InstanceId", "Value": "i-2"}]},
                                  "Period": 86400, "Stat": "Sum"}


def test_batches_of_500_and_next_token():
    cw = boto3.client("cloudwatch", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    ids = ["i-%08x" % n for n in range(501)]
    with Stubber(cw) as stub:
        # first call: 500 queries, answered in two pages
        stub.add_response("get_metric_data", {"MetricDataResults": [{"Id": "q0", "Values": [2.0]}], "NextToken": "t"},
                          {"MetricDataQueries": ANY, "StartTime": ANY, "EndTime": ANY, "ScanBy": "TimestampDescending"})
        stub.add_response("get_metric_data", {"MetricDataResults": [{"Id": "q499", "Values": [1.0, 4.0]}]},
                          {"MetricDataQueries": ANY, "StartTime": ANY, "EndTime": ANY, "ScanBy": "TimestampDescending",
                           "NextToken": "t"})
        # second call: the 501st instance
        stub.add_response("get_metric_data", {"MetricDataResults": [{"Id": "q0", "Values": []}]})
        counts = usage.imdsv1_call_counts(cw, ids, 14, NOW)
        stub.assert_no_pending_responses()
    assert len(counts) == 501
    assert counts["i-00000000"] == 2.0 and counts["i-000001f3"] == 5.0 and counts["i-000001f4"] == 0.0
    assert sum(counts.values()) == 7.0


@mock_aws
def test_against_moto():
    cw = boto3.client("cloudwatch", region_name="us-east-1")
    now = datetime.datetime.now(datetime.timezone.utc)
    cw.put_metric_data(Namespace="AWS/EC2", MetricData=[
        {"MetricName": "MetadataNoToken", "Dimensions": [{"Name": "InstanceId", "Value": "i-0123456789abcdef0"}],
         "Timestamp": now - datetime.timedelta(days=2), "Value": 7.0},
        {"MetricName": "MetadataNoToken", "Dimensions": [{"Name": "InstanceId", "Value": "i-0123456789abcdef0"}],
         "Timestamp": now - datetime.timedelta(days=1), "Value": 5.0},
        {"MetricName": "MetadataNoToken", "Dimensions": [{"Name": "InstanceId", "Value": "i-0aaaaaaaaaaaaaaa1"}],
         "Timestamp": now - datetime.timedelta(days=20), "Value": 9.0},  # outside the 14-day window
    ])
    counts = usage.imdsv1_call_counts(cw, ["i-0123456789abcdef0", "i-0aaaaaaaaaaaaaaa1", "i-0bbbbbbbbbbbbbbb2"], 14)
    assert counts == {"i-0123456789abcdef0": pytest.approx(12.0), "i-0aaaaaaaaaaaaaaa1": 0.0, "i-0bbbbbbbbbbbbbbb2": 0.0}
    assert usage.imdsv1_call_counts(cw, [], 14) == {}
