"""Waves of the safe rollout: validation, assignment, the watch loop, the threshold (pure)."""

from __future__ import annotations

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.fleet import waves as w

IDS = ["i-%017x" % n for n in range(200)]


@pytest.mark.parametrize("waves, sizes, beyond", [
    ([], [200], 0),
    ([100], [200], 0),
    ([1, 10, 50, 100], [2, 18, 80, 100], 0),
    ([1, 10], [2, 18], 180),                     # a canary run: the rest held for a later run
    ([0.1, 0.2, 100], [1, 1, 198], 0),           # each wave at least one instance
])
def test_percent_waves(waves, sizes, beyond):
    groups, rest = w.assign(IDS, waves)
    assert [len(g) for g in groups] == sizes and len(rest) == beyond
    assert sorted(sum(groups, []) + rest) == IDS  # every instance once


def test_small_fleets_drop_empty_waves():
    groups, rest = w.assign(IDS[:2], [1, 10, 50, 100])
    assert groups == [[IDS[0]], [IDS[1]]] and rest == []
    assert w.assign([], [1, 100]) == ([], [])


def test_explicit_groups_keep_only_given_ids():
    groups, rest = w.assign(IDS[:4], [[IDS[3], "i-0000000000000ffff"], [IDS[0], IDS[1]]])
    assert groups == [[IDS[3]], [IDS[0], IDS[1]]] and rest == [IDS[2]]


@pytest.mark.parametrize("waves, error", [
    ([0, 100], "must be above 0"),
    ([10, 5, 100], "must increase"),
    ([10, 101], "at most 100"),
    ([[IDS[0]], 50], "not a mix"),
    ([["web-1"]], "not an instance id"),
    ([[IDS[0]], [IDS[0]]], "more than one group"),
    ([[]], "not a mix"),
    ([True], "not a mix"),
])
def test_bad_waves(waves, error):
    errors = w.validate_waves(waves)
    assert errors and error in " ".join(errors)


def test_validate_safe_rollout():
    good = {"imdsv1_lookback_days": 14, "imdsv1_min_days": 7, "watch_seconds": 900, "rollback_threshold": 10,
            "waves": [1, 100], "http_tokens": "required"}
    assert w.validate_safe_rollout(good) == []
    for change, error in ((dict(imdsv1_lookback_days=0), "imdsv1_lookback_days=0"),
                          (dict(imdsv1_min_days=15), "imdsv1_min_days=15"),
                          (dict(watch_seconds=-1), "watch_seconds=-1"),
                          (dict(rollback_threshold=120), "rollback_threshold=120"),
                          (dict(http_tokens="optional"), "set http_tokens=required")):
        assert any(error in e for e in w.validate_safe_rollout(dict(good, **change))), change


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_watch_loop_undoes_risers_at_once_and_stops_watching_them():
    clock = Clock()
    reads = []
    seen = {"i-a": [0, 0, 2], "i-b": [1], "i-c": [0, 0, 0, 0]}

    def read(ids):
        reads.append(list(ids))
        return {iid: seen[iid].pop(0) if seen[iid] else 0 for iid in ids}

    undone = []
    out = w.watch_loop(["i-a", "i-b", "i-c"], 30, read, lambda iid, v: undone.append((iid, v, clock.now)),
                       clock=clock, sleep=clock.sleep)
    assert out == {"i-b": 1, "i-a": 2}
    assert undone == [("i-b", 1, 10.0), ("i-a", 2, 30.0)]      # i-b undone at the first read, not at the end
    assert reads == [["i-a", "i-b", "i-c"], ["i-a", "i-c"], ["i-a", "i-c"]]
    assert clock.sleeps == [10.0, 10.0, 10.0] and clock.now == 30.0


def test_poll_interval_and_threshold():
    assert w.poll_interval(6) == 2.0 and w.poll_interval(900) == 60.0 and w.poll_interval(1) == 1.0
    assert w.over_threshold(2, 10, 10) and not w.over_threshold(1, 10, 10) and not w.over_threshold(0, 0, 0)
