"""The safe rollout's waves in the benchmark: what a wave costs (issue 23).

    measure(runner, url, n, watch, seed, log, problems) -> [row, row]

Two runs of ec2_metadata_options (http_tokens: required, imdsv1_usage_check: true) on the same freshly seeded
uniform fleet of n instances (every one running, tokens optional, a 14-day MetadataNoToken history of zeros, so
every one is clean and gets required): one wave without a watch, then waves [1, 10, 50, 100] each watched `watch`
seconds. Each row: wall, module task seconds, API calls per operation, mutating calls. The waved row adds
`extra_seconds` (its task time minus the one-wave run's), `watch_seconds` (waves x watch) and `settle_seconds`
(each further wave waits for its changes to read `applied`, `settle` seconds on AWS and in the strict layer's
metadata_pending): the extra should be their sum. `extra_reads` (GetMetricData calls beyond the evidence read)
against `reads_expected` (polls per watch x ceil(instances of the wave / 500), summed over the waves), and
`extra_describes` (the per-wave settle reads): a wave costs its watch and its settle in reads, never a mutating
call more.
"""

from __future__ import annotations

import math

from bench.runner import OPEN_LIMITS, TAG, bulk_playbook, summary_of
from tests.support.fleet_seed import fleet_state

WAVES = [1, 10, 50, 100]


def _args(waves=None, watch=0):
    args = {"tags": dict(TAG), "http_tokens": "required", "imdsv1_usage_check": True, "rate_limits": OPEN_LIMITS}
    if waves:
        args.update(waves=waves, watch_seconds=watch)
    return args


def _polls(watch):
    """Reads of one watch (fleet/waves.py watch_loop: every third of it, at most every minute, one at the end)."""
    interval = max(1.0, min(60.0, watch / 3.0))
    return int(math.ceil(watch / interval))


def _wave_sizes(n):
    sizes, done = [], 0
    for percent in WAVES:
        upto = min(n, max(done + 1, int(math.ceil(n * percent / 100.0))))
        if upto > done:
            sizes.append(upto - done)
        done = upto
    return sizes


def measure(runner, url, n, watch, seed, log, problems, settle=5.0):
    rows = []
    for label, args in (("one wave, no watch", _args()), ("waves %s, watch %ss" % (WAVES, watch), _args(WAVES, watch))):
        fleet = seed(url, n)
        res = runner.run(bulk_playbook("ec2_metadata_options", args), url, url)
        counts = res["counts"]
        row = dict(res, n=n, what=label, summary=summary_of(res), waves=len(_wave_sizes(n)) if "waves" in args else 1,
                   get_metric_data=counts.get("monitoring:GetMetricData", 0),
                   describe=counts.get("ec2:DescribeInstances", 0),
                   modify=counts.get("ec2:ModifyInstanceMetadataOptions", 0))
        row.pop("tasks", None)
        rows.append(row)
        log("N=%d %s: %.1fs (task %.1fs), %d calls (%d GetMetricData), %d mutating, rc %d"
            % (n, label, res["wall"], res["task_seconds"], res["calls"], row["get_metric_data"], res["mutating"],
               res["rc"]))
        if res["rc"] != 0:
            problems.append("N=%d %s failed (rc %d): %s" % (n, label, res["rc"], (res.get("stdout_tail") or "")[-1500:]))
        state = fleet_state(url, fleet["running"])
        left = [i for i in fleet["running"] if state[i]["metadata"].get("HttpTokens") != "required"]
        if left:
            problems.append("N=%d %s: %d instances not required, e.g. %s" % (n, label, len(left), left[:3]))
    one, waved = rows
    waved["extra_seconds"] = round(waved["task_seconds"] - one["task_seconds"], 3)
    waved["watch_seconds"] = waved["waves"] * watch
    # every wave but the one a single-wave run also has waits for its changes to read `applied` (the strict
    # layer's metadata_pending window, as on AWS) before its watch starts
    waved["settle_seconds"] = round((waved["waves"] - 1) * settle, 1)
    waved["extra_describes"] = waved["describe"] - one["describe"]
    waved["extra_reads"] = waved["get_metric_data"] - one["get_metric_data"]
    waved["reads_expected"] = sum(_polls(watch) * int(math.ceil(size / 500.0)) for size in _wave_sizes(n))
    if waved["mutating"] != one["mutating"]:
        problems.append("N=%d waves made %d mutating calls, one wave %d" % (n, waved["mutating"], one["mutating"]))
    return rows


def markdown(rows):
    lines = ["", "## Safe rollout: waves and their watch (ec2_metadata_options, imdsv1_usage_check)", "",
             "| N | run | waves | wall s | task s | extra s (task) | waves x watch + settle s | calls | GetMetricData | "
             "extra GetMetricData (expected) | extra DescribeInstances | mutating |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    for r in rows:
        waved = "extra_seconds" in r
        lines.append("| %d | %s | %d | %.1f | %.1f | %s | %s | %d | %d | %s | %s | %d |" % (
            r["n"], r["what"], r["waves"], r["wall"], r["task_seconds"], "%.1f" % r["extra_seconds"] if waved else "-",
            "%s + %s" % (r["watch_seconds"], r["settle_seconds"]) if waved else "-", r["calls"], r["get_metric_data"],
            "%d (%d)" % (r["extra_reads"], r["reads_expected"]) if waved else "-",
            r["extra_describes"] if waved else "-", r["mutating"]))
    return lines
