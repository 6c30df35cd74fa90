"""rollout.Rollout with waves, over a fake step: order of the waves, the watch's undoing, the thresholds."""

from __future__ import annotations

import types

from ansible_collections.keyless.aws.plugins.module_utils.fleet.rollout import Rollout
from ansible_collections.keyless.aws.plugins.module_utils.fleet.step import InstanceChange, Step

IDS = ["i-%017x" % n for n in range(1, 7)]


class FakeRun:
    def __init__(self):
        self.stop_reason = None
        self.waves = []

    def phase(self, name):
        pass


class Progress:
    def mark_changed(self):
        pass


class Tighten(Step):
    """Requires IMDSv2 on every instance; `fail` fail their call; the watch undoes `breaks`, `undo_fails` fail."""

    name = "metadata"
    wait_reason = "not applied"

    def __init__(self, fail=(), breaks=(), undo_fails=()):
        self.fail, self.breaks, self.undo_fails = set(fail), set(breaks), set(undo_fails)
        self.applied, self.watched = [], []

    def plan(self, record):
        return InstanceChange(record["instance_id"], "modify", {"http_tokens": "optional"},
                              {"http_tokens": "required"}, "ModifyInstanceMetadataOptions", {})

    def gated(self, change):
        return True

    def operation(self, change):
        return "ModifyInstanceMetadataOptions"

    def apply(self, run, change):
        if change.instance_id in self.fail:
            raise RuntimeError("boom")
        self.applied.append(change.instance_id)
        return {"action": "modify", "settled": True}

    def settled(self, run, pending):
        return set()

    def watch(self, run, changes, since):
        ids = [c.instance_id for c in changes]
        self.watched.append(ids)
        out = {}
        for iid in ids:
            if iid in self.undo_fails:
                out[iid] = ("failed", "undo failed", {"http_tokens": "required"})
            elif iid in self.breaks:
                out[iid] = ("rolled_back", "refused calls", {"http_tokens": "optional"})
        return out


def converge(step, **params):
    base = dict(concurrency=2, wait=True, wait_timeout=5, waves=[], watch_seconds=1, rollback_threshold=10.0)
    module = types.SimpleNamespace(params=dict(base, **params), check_mode=False)
    run = FakeRun()
    rollout = Rollout(module, run, [step], Progress(), max_fail_percentage=params.get("max_fail_percentage"))
    results = rollout.converge({iid: {"instance_id": iid} for iid in IDS})
    return run, {r["instance_id"]: r for r in results["metadata"]}


def test_waves_in_order_each_watched_once():
    step = Tighten()
    run, res = converge(step, waves=[[IDS[0]], [IDS[1], IDS[2]], IDS[3:]])
    assert step.watched == [[IDS[0]], [IDS[1], IDS[2]], IDS[3:]]
    assert step.applied.index(IDS[0]) < min(step.applied.index(i) for i in IDS[1:])
    assert all(r["status"] == "changed" for r in res.values()) and run.stop_reason is None
    assert [w["enforced"] for w in run.waves] == [1, 2, 3]


def test_a_failed_undo_counts_toward_the_threshold():
    step = Tighten(undo_fails={IDS[0]})
    run, res = converge(step, waves=[[IDS[0], IDS[1]], IDS[2:]], rollback_threshold=40)
    assert run.stop_reason and "rolled back or failed to be" in run.stop_reason and IDS[0] in run.stop_reason
    assert res[IDS[0]]["status"] == "failed" and run.waves[0]["rollback_failed"] == [IDS[0]]
    assert all(res[i]["status"] == "skipped" for i in IDS[2:]) and run.waves[1]["not_reached"] == 4


def test_rolled_back_below_the_threshold_goes_on():
    step = Tighten(breaks={IDS[0]})
    run, res = converge(step, waves=[[IDS[0], IDS[1]], IDS[2:]], rollback_threshold=50)
    assert run.stop_reason is None and res[IDS[0]]["status"] == "rolled_back"
    assert all(res[i]["status"] == "changed" for i in IDS[2:])


def test_max_fail_percentage_is_judged_between_waves():
    step = Tighten(fail={IDS[0]})
    run, res = converge(step, waves=[[IDS[0], IDS[1]], IDS[2:]], max_fail_percentage=10)
    assert run.stop_reason and "after wave 1/2: 1 of 2 instances failed" in run.stop_reason
    assert res[IDS[0]]["status"] == "failed" and all(res[i]["status"] == "skipped" for i in IDS[2:])
    assert step.watched == [[IDS[1]]]  # the failed change is not watched; the next wave never starts


def test_a_failed_change_is_not_watched_but_its_wave_mate_is():
    step = Tighten(fail={IDS[1]})
    converge(step, waves=[IDS[:3], IDS[3:]])
    assert step.watched == [[IDS[0], IDS[2]], IDS[3:]]


def test_result_records_are_made_once_per_instance():
    step = Tighten(breaks={IDS[4]})
    module = types.SimpleNamespace(params=dict(concurrency=2, wait=True, wait_timeout=5, waves=[[IDS[0]], IDS[1:]],
                                               watch_seconds=1, rollback_threshold=90.0), check_mode=False)
    records = Rollout(module, FakeRun(), [step], Progress()).converge({iid: {"instance_id": iid} for iid in IDS})
    assert sorted(r["instance_id"] for r in records["metadata"]) == IDS  # each once, across the two waves
    assert [r["status"] for r in records["metadata"] if r["instance_id"] == IDS[4]] == ["rolled_back"]
