# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who still calls IMDSv1, and who fails once IMDSv2 is required: CloudWatch AWS/EC2 MetadataNoToken and
MetadataNoTokenRejected per instance. Private to the collection.

    imdsv1_evidence(cloudwatch, instance_ids, lookback_days, min_days, now=None) -> {instance_id: evidence}
        Daily sums of both metrics over the last `lookback_days` UTC days (today's part included), two queries
        per instance, 500 queries a call (250 instances), paginated with NextToken. evidence (judge):
        {signal, calls, rejected, days_with_data, days: [{date, calls, rejected}], reason}
        signal: "calls"   - IMDSv1 calls (MetadataNoToken) or refused ones (MetadataNoTokenRejected: the instance
                            was required before and something on it failed) in the window;
                "no_data" - fewer than min_days days with a MetadataNoToken datapoint: absence is not evidence
                            (stopped through the window, just launched, metric not published);
                "unknown" - CloudWatch did not answer for the instance (a query's StatusCode other than Complete
                            or PartialData, or an instance missing from the answer);
                "clean"   - data on at least min_days days, and no call.
    rejected_since(cloudwatch, instance_ids, since, now=None) -> {instance_id: rejected calls since `since`}
        The watch of a wave (one-minute sums from the 5-minute boundary at or before `since`), for the instances
        just required.
    judge(daily_calls, daily_rejected, days, min_days, status) -> evidence   (pure)
    day_window(lookback_days, now=None) -> (start, end, period)              (pure)
    metric_queries(instance_ids, period, metrics=METRICS) -> list[dict]       (pure; ids "<m><n>")
    default_min_days(lookback_days) -> int                                    (half the window, rounded up)

AWS facts (EC2 User Guide, "Instance metrics" of CloudWatch; CloudWatch API Reference, GetMetricData):
- MetadataNoToken: the number of times IMDS was successfully accessed without a token (an IMDSv1 call).
  MetadataNoTokenRejected: the number of times an IMDSv1 call was refused because IMDSv2 was required. Both are
  per instance (dimension InstanceId), published while the instance runs (every 5 minutes, every minute with
  detailed monitoring), a 0 when nothing happened - so a day without a datapoint is a day without evidence.
- GetMetricData: at most 500 MetricDataQueries a call; results page with NextToken; a query's StatusCode is
  Complete, PartialData (more pages), InternalError or Forbidden. Periods are multiples of 60; data older than
  15 days only at 5-minute, older than 63 days only at 1-hour resolution - a period of a day fits all of them.
  StartTime on a day boundary makes each returned timestamp one UTC day.
- AWS's IMDSv2 migration guidance: require IMDSv2 once an instance made no IMDSv1 call over a window (14 days).
"""

from __future__ import annotations

import datetime

QUERIES_PER_CALL = 500
NAMESPACE = "AWS/EC2"
NO_TOKEN = "MetadataNoToken"
REJECTED = "MetadataNoTokenRejected"
METRICS = (("n", NO_TOKEN), ("r", REJECTED))
DAY = 86400
SIGNALS = ("clean", "calls", "no_data", "unknown")
# A query status CloudWatch gives when it has no (or not all) data for reasons other than paging.
FAILED_STATUSES = ("InternalError", "Forbidden")


def default_min_days(lookback_days):
    """Days with data an instance needs by default: half the window, rounded up (7 of 14)."""
    return max(1, (int(lookback_days) + 1) // 2)


def _utc(now):
    return now or datetime.datetime.now(datetime.timezone.utc)


def _next_minute(when):
    """The start of the minute after `when`: an EndTime that includes a datapoint stamped now."""
    return when.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)


def day_window(lookback_days, now=None):
    """(StartTime, EndTime, Period): the last `lookback_days` UTC days, today's part included, one period a day."""
    now = _utc(now)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = midnight - datetime.timedelta(days=max(1, int(lookback_days)) - 1)
    return start, _next_minute(now), DAY


def day_names(start, lookback_days):
    return [(start + datetime.timedelta(days=n)).strftime("%Y-%m-%d") for n in range(max(1, int(lookback_days)))]


def metric_queries(instance_ids, period, metrics=METRICS):
    """The MetricDataQueries for these instances: id <prefix><position> per metric (n0, r0, n1, r1...)."""
    return [{
        "Id": "%s%d" % (prefix, n),
        "MetricStat": {
            "Metric": {"Namespace": NAMESPACE, "MetricName": metric,
                       "Dimensions": [{"Name": "InstanceId", "Value": iid}]},
            "Period": period,
            "Stat": "Sum",
        },
        "ReturnData": True,
    } for n, iid in enumerate(instance_ids) for prefix, metric in metrics]


def _read(cloudwatch, instance_ids, start, end, period, metrics):
    """{instance_id: {"status": worst query status, prefix: {timestamp: sum}}} over the window."""
    ids = sorted(set(instance_ids))
    out = {iid: {"status": None} for iid in ids}
    per_call = QUERIES_PER_CALL // len(metrics)
    for offset in range(0, len(ids), per_call):
        chunk = ids[offset:offset + per_call]
        kwargs = {"MetricDataQueries": metric_queries(chunk, period, metrics), "StartTime": start, "EndTime": end,
                  "ScanBy": "TimestampAscending"}
        while True:
            resp = cloudwatch.get_metric_data(**kwargs)
            for res in resp.get("MetricDataResults") or ():
                qid = res.get("Id") or ""
                prefix, position = qid[:1], qid[1:]
                if not position.isdigit() or int(position) >= len(chunk):
                    continue
                entry = out[chunk[int(position)]]
                status = res.get("StatusCode") or "Complete"
                if entry["status"] not in FAILED_STATUSES:
                    entry["status"] = status if status in FAILED_STATUSES else "Complete"
                series = entry.setdefault(prefix, {})
                for stamp, value in zip(res.get("Timestamps") or (), res.get("Values") or ()):
                    series[stamp] = series.get(stamp, 0.0) + float(value)
            token = resp.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
    return out


def judge(daily_calls, daily_rejected, days, min_days, status="Complete"):
    """The evidence of one instance (pure): see the module docstring. daily_*: {"YYYY-MM-DD": sum}."""
    calls = float(sum(daily_calls.values()))
    rejected = float(sum(daily_rejected.values()))
    with_data = sum(1 for day in days if day in daily_calls)
    table = [{"date": day, "calls": daily_calls.get(day), "rejected": daily_rejected.get(day)} for day in days]
    evidence = {"calls": calls, "rejected": rejected, "days_with_data": with_data, "days": table}
    if calls > 0 or rejected > 0:
        parts = []
        if calls > 0:
            parts.append("%g IMDSv1 calls (MetadataNoToken) on %s" % (
                calls, ", ".join(day for day in days if daily_calls.get(day))))
        if rejected > 0:
            parts.append("%g refused IMDSv1 calls (MetadataNoTokenRejected: it failed while IMDSv2 was required) on %s"
                         % (rejected, ", ".join(day for day in days if daily_rejected.get(day))))
        return dict(evidence, signal="calls", reason="; ".join(parts) + " in the last %d days" % len(days))
    if status is None or status in FAILED_STATUSES:
        return dict(evidence, signal="unknown",
                    reason="CloudWatch gave no answer for it (%s): no evidence either way" % (status or "missing"))
    if with_data < min_days:
        return dict(evidence, signal="no_data",
                    reason="no evidence: MetadataNoToken has data on %d of the last %d days (%d needed; stopped, "
                           "just launched, or the metric is not published)" % (with_data, len(days), min_days))
    return dict(evidence, signal="clean", reason=None)


def imdsv1_evidence(cloudwatch, instance_ids, lookback_days, min_days, now=None):
    """{instance_id: evidence} for every given instance: see the module docstring."""
    start, end, period = day_window(lookback_days, now)
    days = day_names(start, lookback_days)
    raw = _read(cloudwatch, instance_ids, start, end, period, METRICS)

    def by_day(series):
        out = {}
        for stamp, value in (series or {}).items():
            day = stamp.strftime("%Y-%m-%d") if hasattr(stamp, "strftime") else str(stamp)[:10]
            out[day] = out.get(day, 0.0) + value
        return out

    return {iid: judge(by_day(entry.get("n")), by_day(entry.get("r")), days, min_days, entry["status"])
            for iid, entry in raw.items()}


def rejected_since(cloudwatch, instance_ids, since, now=None):
    """{instance_id: MetadataNoTokenRejected sum from `since` (floored to 5 minutes) to now}."""
    if not instance_ids:
        return {}
    # EC2's basic monitoring stamps a 5-minute datapoint at the start of its interval: the one covering the wave's
    # first minutes is stamped up to 5 minutes before it (the instances were optional until then: nothing earlier
    # can be a refusal)
    start = since.replace(minute=since.minute - since.minute % 5, second=0, microsecond=0)
    end = _next_minute(_utc(now))
    raw = _read(cloudwatch, instance_ids, start, end, 60, (("r", REJECTED),))
    return {iid: float(sum((entry.get("r") or {}).values())) for iid, entry in raw.items()}
