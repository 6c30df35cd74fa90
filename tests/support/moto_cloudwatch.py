"""CloudWatch GetMetricData where moto 5.2.6 answers too slowly (or unlike AWS) for a fleet: a patch of moto's
backend, registered by tests/support/moto_server.fix_moto() (the moto server and in-process mock_aws alike).

    fix_cloudwatch()   applies the patch below (idempotent through fix_moto)

moto's get_metric_data compares every stored datapoint with every query and every period (O(queries x periods x
datapoints): 500 queries x 14 days over a seeded fleet's 40,000 daily datapoints is ~280 million comparisons, minutes
per call), and matches a query with dimensions on the metric name alone, ignoring its namespace. AWS (CloudWatch API
Reference, GetMetricData and MetricStat) matches namespace, metric name and the exact set of dimensions, and answers
up to 500 queries a call in one pass. This patch indexes the datapoints by (namespace, name, dimensions) once per
new datapoint and answers MetricStat queries from the index: the same values, timestamps (each period from
StartTime) and StatusCode as moto; any other query (metric math, Metrics Insights) goes to moto's own code.
"""

from __future__ import annotations

from datetime import timedelta


def _key(namespace, name, dimensions):
    return (namespace, name, tuple(sorted((d.name, d.value) for d in dimensions or ())))


def _index(backend):
    """{key: [datapoints]} over backend.metric_data, extended with the datapoints put since the last call."""
    state = getattr(backend, "keyless_metric_index", None)
    if state is None or state[0] > len(backend.metric_data):
        state = backend.keyless_metric_index = [0, {}]
    seen, index = state
    for datum in backend.metric_data[seen:]:
        index.setdefault(_key(datum.namespace, datum.name, datum.dimensions), []).append(datum)
    state[0] = len(backend.metric_data)
    return index


def fix_cloudwatch():
    from moto.cloudwatch import models
    from moto.cloudwatch.exceptions import ValidationError

    backend_class = models.CloudWatchBackend
    original = backend_class.get_metric_data

    def get_metric_data(self, queries, start_time, end_time, scan_by="TimestampAscending"):
        if not queries or any("MetricStat" not in q for q in queries):
            return original(self, queries, start_time, end_time, scan_by)
        start_time = start_time.replace(microsecond=0)
        end_time = end_time.replace(microsecond=0)
        if start_time > end_time:
            raise ValidationError("The parameter EndTime must be greater than StartTime.")
        if start_time == end_time:
            raise ValidationError("The parameter StartTime must not equal parameter EndTime.")
        index = _index(self)
        extra = {}
        for datum in self.aws_metric_data:
            extra.setdefault(_key(datum.namespace, datum.name, datum.dimensions), []).append(datum)
        results = []
        for query in queries:
            stat_spec = query["MetricStat"]
            metric = stat_spec["Metric"]
            dims = [models.Dimension(d["Name"], d["Value"]) for d in metric.get("Dimensions", [])]
            key = _key(metric["Namespace"], metric["MetricName"], dims)
            period = int(stat_spec["Period"])
            unit = stat_spec.get("Unit")
            buckets = {}
            for datum in index.get(key, []) + extra.get(key, []):
                if start_time <= datum.timestamp < end_time and (not unit or datum.unit == unit):
                    buckets.setdefault(int((datum.timestamp - start_time).total_seconds()) // period, []).append(datum)
            values, timestamps = [], []
            for slot in sorted(buckets):
                stamp = start_time + timedelta(seconds=slot * period)
                stats = models.Statistics([stat_spec["Stat"]], stamp)
                stats.metric_data = buckets[slot]
                values.append(stats.get_statistics_for_type(stat_spec["Stat"]))
                timestamps.append(stats.timestamp)
            if scan_by == "TimestampDescending":
                values.reverse()
                timestamps.reverse()
            if query.get("ReturnData", True):
                label = query.get("Label") or "%s %s" % (metric["MetricName"], stat_spec["Stat"])
                results.append({"id": query["Id"], "label": label, "values": values, "timestamps": timestamps,
                                "status_code": "Complete"})
        return results

    backend_class.get_metric_data = get_metric_data
