# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who still calls IMDSv1: CloudWatch AWS/EC2 MetadataNoToken, summed over a lookback window.

    imdsv1_call_counts(cloudwatch, instance_ids, lookback_days, now=None) -> dict[instance_id, float]
        One GetMetricData query per instance (Stat Sum, one period covering the whole window), 500
        queries a call (the API's maximum), paginated with NextToken. Every instance asked about is in
        the result; 0.0 means no datapoint (no IMDSv1 call seen, or the metric was never published).
        Raises botocore ClientError on failure (callers turn it into a clear message).
    metric_queries(instance_ids, period) -> list[dict]   (pure: the MetricDataQueries of one call)
    window(lookback_days, now=None) -> (start, end, period)

AWS's migration guide: require IMDSv2 once an instance made no IMDSv1 call over the window (14 days).

Private to the collection: no stable API.
"""

from __future__ import annotations

import datetime

QUERIES_PER_CALL = 500
NAMESPACE = "AWS/EC2"
METRIC = "MetadataNoToken"


def window(lookback_days, now=None):
    """(StartTime, EndTime, Period) for one period spanning the lookback (Period: a multiple of 60,
    and of 3600 as CloudWatch wants for data older than 63 days)."""
    end = now or datetime.datetime.now(datetime.timezone.utc)
    days = max(1, int(lookback_days))
    start = end - datetime.timedelta(days=days)
    return start, end, days * 86400


def metric_queries(instance_ids, period):
    """The MetricDataQueries for these instances; query ids q0..qN map back by position."""
    return [{
        "Id": "q%d" % n,
        "MetricStat": {
            "Metric": {"Namespace": NAMESPACE, "MetricName": METRIC,
                       "Dimensions": [{"Name": "InstanceId", "Value": iid}]},
            "Period": period,
            "Stat": "Sum",
        },
        "ReturnData": True,
    } for n, iid in enumerate(instance_ids)]


def imdsv1_call_counts(cloudwatch, instance_ids, lookback_days, now=None):
    """{instance_id: MetadataNoToken Sum over the window} for every given instance."""
    ids = sorted(set(instance_ids))
    counts = dict.fromkeys(ids, 0.0)
    start, end, period = window(lookback_days, now)
    for offset in range(0, len(ids), QUERIES_PER_CALL):
        chunk = ids[offset:offset + QUERIES_PER_CALL]
        kwargs = {"MetricDataQueries": metric_queries(chunk, period), "StartTime": start, "EndTime": end,
                  "ScanBy": "TimestampDescending"}
        while True:
            resp = cloudwatch.get_metric_data(**kwargs)
            for result in resp.get("MetricDataResults") or ():
                qid = result.get("Id", "")
                if not qid.startswith("q"):
                    continue
                iid = chunk[int(qid[1:])]
                # with one period there is one value; sum anyway in case CloudWatch splits the window
                counts[iid] += float(sum(result.get("Values") or ()))
            token = resp.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
    return counts
