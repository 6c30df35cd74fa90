# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The safe rollout of IMDSv2: its options, waves of instances, and the watch after each wave.
Private to the collection.

    safe_rollout_argument_spec() -> dict       imdsv1_usage_check, imdsv1_lookback_days, imdsv1_min_days,
                                               imdsv1_no_data, waves, watch_seconds, rollback_threshold, fail_on_held
    validate_safe_rollout(params) -> [errors]  pure; every bad value named before any AWS call
    assign(ids, waves) -> (groups, beyond)     pure: the instances of each wave, in order, and the ones no wave
                                               of this run takes (explicit groups that do not name them, or a
                                               last percentage under 100)
    watch_loop(ids, seconds, read, undo, clock, sleep) -> {instance_id: value}
        Polls read(ids still watched) every poll_interval(seconds) until `seconds` passed (one last read at the
        end); each instance whose value is above 0 is handed to undo(id, value) at once and watched no more.
        Returns what was undone. A wave costs its watch: a read is one GetMetricData per 500 instances.
    over_threshold(rolled_back, enforced, threshold) -> bool

`waves`: percentages of the instances a run would require IMDSv2 on (cumulative: [1, 10, 50, 100] requires 1 %,
then up to 10 %, ...; each wave at least one instance), or explicit groups of instance ids ([[i-a, i-b], [i-c]]).
Instances whose change does not require IMDSv2 (or that need no change) go with the first wave. A wave is
applied, waited for (settled), then watched for `watch_seconds`; the step undoes what breaks (steps.py:
MetadataStep.watch puts an instance whose MetadataNoTokenRejected rises back to http_tokens=optional) and, when
more than rollback_threshold percent of a wave was undone, the rollout stops before the next wave.
"""

from __future__ import annotations

import math
import time

from ansible_collections.keyless.aws.plugins.module_utils.aws.rules import is_instance_id

LOOKBACK_RANGE = (1, 455)      # CloudWatch keeps hourly data for 455 days
WATCH_RANGE = (0, 86400)
NO_DATA_CHOICES = ("hold", "enforce")


def safe_rollout_argument_spec():
    return dict(
        imdsv1_usage_check=dict(type="bool", default=False),
        imdsv1_lookback_days=dict(type="int", default=14),
        imdsv1_min_days=dict(type="int"),
        imdsv1_no_data=dict(type="str", choices=list(NO_DATA_CHOICES), default="hold"),
        waves=dict(type="list", elements="raw", default=[]),
        watch_seconds=dict(type="int", default=0),
        rollback_threshold=dict(type="float", default=10.0),
        fail_on_held=dict(type="bool", default=False),
    )


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate_waves(waves):
    """Errors of the `waves` option (pure)."""
    waves = list(waves or [])
    if not waves:
        return []
    if all(_number(w) for w in waves):
        errors = ["waves=%r: percentage %r must be above 0 and at most 100" % (waves, w) for w in waves
                  if not 0 < w <= 100]
        if not errors and any(b <= a for a, b in zip(waves, waves[1:])):
            errors.append("waves=%r: percentages are cumulative and must increase (for example [1, 10, 50, 100])"
                          % (waves,))
        return errors
    if all(isinstance(w, (list, tuple)) and w for w in waves):
        errors = []
        seen = set()
        for n, group in enumerate(waves, 1):
            for iid in group:
                if not isinstance(iid, str) or not is_instance_id(iid):
                    errors.append("waves: group %d has %r, not an instance id (i- and 8 to 17 hex digits)" % (n, iid))
                elif iid in seen:
                    errors.append("waves: %s is in more than one group" % iid)
                seen.add(iid)
        return errors
    return ["waves=%r: give either percentages ([1, 10, 50, 100]) or non-empty groups of instance ids "
            "([[i-0a..., i-0b...], [i-0c...]]), not a mix" % (waves,)]


def validate_safe_rollout(params):
    errors = []
    low, high = LOOKBACK_RANGE
    days = params.get("imdsv1_lookback_days")
    if days is not None and not low <= days <= high:
        errors.append("imdsv1_lookback_days=%r: must be from %d to %d (CloudWatch keeps hourly data 455 days)"
                      % (days, low, high))
    min_days = params.get("imdsv1_min_days")
    if min_days is not None and days is not None and not 0 <= min_days <= days:
        errors.append("imdsv1_min_days=%r: must be from 0 to imdsv1_lookback_days=%r" % (min_days, days))
    low, high = WATCH_RANGE
    watch = params.get("watch_seconds")
    if watch is not None and not low <= watch <= high:
        errors.append("watch_seconds=%r: must be from %d to %d" % (watch, low, high))
    threshold = params.get("rollback_threshold")
    if threshold is not None and not 0 <= threshold <= 100:
        errors.append("rollback_threshold=%r: must be from 0 to 100 (percent of a wave)" % (threshold,))
    errors.extend(validate_waves(params.get("waves")))
    if (params.get("waves") or params.get("watch_seconds")) and params.get("http_tokens") != "required":
        errors.append("waves and watch_seconds roll out http_tokens=required: set http_tokens=required with them")
    return errors


def assign(ids, waves):
    """([wave: [instance ids]], [ids in no wave]) for `ids` (the instances whose change a wave gates), pure."""
    ids = sorted(ids)
    waves = list(waves or [])
    if not waves:
        return ([ids] if ids else []), []
    if all(_number(w) for w in waves):
        groups, done = [], 0
        for percent in waves:
            upto = min(len(ids), max(done + 1, int(math.ceil(len(ids) * percent / 100.0))))
            if upto > done:
                groups.append(ids[done:upto])
            done = upto
        return groups, ids[done:]
    wanted = set(ids)
    groups = [[iid for iid in sorted(group) if iid in wanted] for group in waves]
    named = {iid for group in groups for iid in group}
    return [g for g in groups if g], [iid for iid in ids if iid not in named]


def poll_interval(seconds):
    """How often the watch reads: a third of it, at most a minute (CloudWatch's finest period), at least 1 s."""
    return max(1.0, min(60.0, seconds / 3.0))


def watch_loop(ids, seconds, read, undo, clock=time.monotonic, sleep=time.sleep):
    """See the module docstring."""
    watched = set(ids)
    undone = {}
    end = clock() + seconds
    interval = poll_interval(seconds)
    while watched:
        left = end - clock()
        if left > 0:
            sleep(min(interval, left))
        values = read(sorted(watched))
        for iid in sorted(watched):
            value = values.get(iid) or 0
            if value > 0:
                undo(iid, value)
                undone[iid] = value
                watched.discard(iid)
        if clock() >= end:
            break
    return undone


def over_threshold(rolled_back, enforced, threshold):
    """More than `threshold` percent of a wave's `enforced` instances rolled back."""
    return enforced > 0 and 100.0 * rolled_back / enforced > threshold
