"""IMDSv1 evidence from CloudWatch: daily windows, query shape, 500 queries a call, NextToken, the judgement
(calls / no_data / unknown / clean), the watch's rejected reads, and against moto."""

from __future__ import annotations

import datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from ansible_collections.keyless.aws.plugins.module_utils.fleet import imdsv1_usage as usage

NOW = datetime.datetime(2026, 12, 1, 12, 0, 30, tzinfo=datetime.timezone.utc)
DAYS = ["2026-11-%02d" % d for d in range(18, 31)] + ["2026-12-01"]  # the 14 UTC days up to NOW


def test_day_window_is_whole_utc_days_up_to_now():
    start, end, period = usage.day_window(14, NOW)
    assert start == datetime.datetime(2026, 11, 18, tzinfo=datetime.timezone.utc)
    assert end == datetime.datetime(2026, 12, 1, 12, 1, tzinfo=datetime.timezone.utc)  # includes a point stamped now
    assert period == 86400 and usage.day_names(start, 14) == DAYS


def test_default_min_days_is_half_the_window():
    assert [usage.default_min_days(d) for d in (1, 2, 3, 14, 15)] == [1, 1, 2, 7, 8]


def test_metric_queries_shape_two_metrics_per_instance():
    q = usage.metric_queries(["i-1", "i-2"], 86400)
    assert [x["Id"] for x in q] == ["n0", "r0", "n1", "r1"]
    assert q[3]["MetricStat"] == {"Metric": {"Namespace": "AWS/EC2", "MetricName": "MetadataNoTokenRejected",
                                             "Dimensions": [{"Name": "InstanceId", "Value": "i-2"}]},
                                  "Period": 86400, "Stat": "Sum"}


@pytest.mark.parametrize("calls, rejected, status, min_days, signal", [
    ({d: 0.0 for d in DAYS}, {}, "Complete", 7, "clean"),
    ({d: 0.0 for d in DAYS[:7]}, {}, "Complete", 7, "clean"),        # exactly enough days
    ({d: 0.0 for d in DAYS[:6]}, {}, "Complete", 7, "no_data"),      # one day short
    ({}, {}, "Complete", 7, "no_data"),                              # stopped through the window
    ({}, {}, "Complete", 0, "clean"),                                # min_days 0 accepts absence
    (dict({d: 0.0 for d in DAYS}, **{DAYS[3]: 4.0}), {}, "Complete", 7, "calls"),
    ({DAYS[0]: 2.0}, {}, "Complete", 7, "calls"),                    # calls count even without enough days
    ({d: 0.0 for d in DAYS}, {DAYS[-1]: 3.0}, "Complete", 7, "calls"),  # refused once required: held next time
    ({d: 0.0 for d in DAYS}, {}, "InternalError", 7, "unknown"),
    ({}, {}, None, 7, "unknown"),                                    # missing from CloudWatch's answer
])
def test_judge(calls, rejected, status, min_days, signal):
    ev = usage.judge(calls, rejected, DAYS, min_days, status)
    assert ev["signal"] == signal
    assert ev["calls"] == sum(calls.values()) and ev["rejected"] == sum(rejected.values())
    assert [d["date"] for d in ev["days"]] == DAYS
    assert (ev["reason"] is None) == (signal == "clean")


def test_judge_reason_names_days_and_counts():
    ev = usage.judge({DAYS[2]: 4.0, DAYS[5]: 1.0}, {}, DAYS, 7)
    assert ev["reason"] == "5 IMDSv1 calls (MetadataNoToken) on %s, %s in the last 14 days" % (DAYS[2], DAYS[5])
    ev = usage.judge({d: 0.0 for d in DAYS[:3]}, {}, DAYS, 7)
    assert "data on 3 of the last 14 days (7 needed" in ev["reason"]
    assert ev["days"][0] == {"date": DAYS[0], "calls": 0.0, "rejected": None} and ev["days"][5]["calls"] is None


def _answer(qid, stamps, values, status="Complete"):
    return {"Id": qid, "Timestamps": stamps, "Values": values, "StatusCode": status}


def test_250_instances_a_call_next_token_and_statuses():
    cw = boto3.client("cloudwatch", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    ids = ["i-%08x" % n for n in range(251)]
    day = datetime.datetime(2026, 11, 30, tzinfo=datetime.timezone.utc)
    expected = {"MetricDataQueries": ANY, "StartTime": ANY, "EndTime": ANY, "ScanBy": "TimestampAscending"}
    with Stubber(cw) as stub:
        stub.add_response("get_metric_data", {"MetricDataResults": [_answer("n0", [day], [2.0]),
                                                                    _answer("r1", [day], [1.0])], "NextToken": "t"},
                          expected)
        stub.add_response("get_metric_data", {"MetricDataResults": [_answer("n1", [day], [0.0]),
                                                                    _answer("n249", [], [], "InternalError")]},
                          dict(expected, NextToken="t"))
        stub.add_response("get_metric_data", {"MetricDataResults": [_answer("n0", [day], [0.0])]}, expected)
        ev = usage.imdsv1_evidence(cw, ids, 14, 1, NOW)
        stub.assert_no_pending_responses()
    assert len(ev) == 251
    assert ev["i-00000000"]["signal"] == "calls" and ev["i-00000000"]["calls"] == 2.0
    assert ev["i-00000001"]["signal"] == "calls" and ev["i-00000001"]["rejected"] == 1.0
    assert ev["i-000000f9"]["signal"] == "unknown"            # InternalError
    assert ev["i-00000002"]["signal"] == "unknown"            # never answered
    assert ev["i-000000fa"]["signal"] == "clean"              # the 251st, in the second call


def test_queries_per_call_at_most_500():
    calls = []

    class Cw:
        def get_metric_data(self, **kwargs):
            calls.append(len(kwargs["MetricDataQueries"]))
            return {"MetricDataResults": []}

    usage.imdsv1_evidence(Cw(), ["i-%08x" % n for n in range(600)], 14, 7, NOW)
    assert calls == [500, 500, 200]
    calls.clear()
    usage.rejected_since(Cw(), ["i-%08x" % n for n in range(600)], NOW - datetime.timedelta(minutes=5), NOW)
    assert calls == [500, 100]


@mock_aws
def test_against_moto():
    cw = boto3.client("cloudwatch", region_name="us-east-1")
    now = datetime.datetime.now(datetime.timezone.utc)
    busy, quiet, stopped, old = "i-0123456789abcdef0", "i-0aaaaaaaaaaaaaaa1", "i-0bbbbbbbbbbbbbbb2", "i-0ccccccccccccccc3"
    data = [{"MetricName": "MetadataNoToken", "Dimensions": [{"Name": "InstanceId", "Value": iid}],
             "Timestamp": now - datetime.timedelta(days=n), "Value": value}
            for iid, value in ((busy, 1.0), (quiet, 0.0)) for n in range(10)]
    data.append({"MetricName": "MetadataNoToken", "Dimensions": [{"Name": "InstanceId", "Value": old}],
                 "Timestamp": now - datetime.timedelta(days=20), "Value": 9.0})  # outside the 14-day window
    cw.put_metric_data(Namespace="AWS/EC2", MetricData=data)
    ev = usage.imdsv1_evidence(cw, [busy, quiet, stopped, old], 14, 7)
    assert ev[busy]["signal"] == "calls" and ev[busy]["calls"] == pytest.approx(10.0)
    assert ev[quiet]["signal"] == "clean" and ev[quiet]["days_with_data"] >= 9
    assert ev[stopped]["signal"] == "no_data" and ev[old]["signal"] == "no_data"
    assert usage.imdsv1_evidence(cw, [], 14, 7) == {}
    cw.put_metric_data(Namespace="AWS/EC2", MetricData=[
        {"MetricName": "MetadataNoTokenRejected", "Dimensions": [{"Name": "InstanceId", "Value": quiet}],
         "Timestamp": now, "Value": 3.0}])
    assert usage.rejected_since(cw, [quiet, busy], now - datetime.timedelta(minutes=2)) == {quiet: 3.0, busy: 0.0}
