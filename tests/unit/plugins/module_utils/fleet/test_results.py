"""Per-instance records, summary counts, bounded diff, the final failure message, bulk wait loop."""

from __future__ import annotations

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.fleet import results as fr
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import poll
from ansible_collections.keyless.aws.plugins.module_utils.aws.parallel import Failure
from ansible_collections.keyless.aws.plugins.module_utils.fleet.executor import Lanes, validate_execution


def sample():
    return [
        fr.result("i-3", "associate", {"p": None}, {"p": "A"}, "changed"),
        fr.result("i-1", "replace", {"p": "B"}, {"p": "A"}, "changed"),
        fr.result("i-2", "none", {"p": "A"}, {"p": "A"}, "unchanged"),
        fr.result("i-4", "none", None, None, "skipped", "instance is terminated"),
        fr.result("i-5", "modify", {}, {}, "held", "3 IMDSv1 calls"),
        fr.result("i-6", "associate", {"p": None}, {"p": None}, "failed", "AccessDenied"),
    ]


def test_result_record_shape():
    rec = fr.result("i-1", "modify", {"a": 1}, {"a": 2}, "changed")
    assert rec == {"instance_id": "i-1", "action": "modify", "before": {"a": 1}, "after": {"a": 2},
                   "status": "changed", "reason": None}
    with pytest.raises(ValueError):
        fr.result("i-1", "modify", None, None, "done")
    with pytest.raises(ValueError):
        fr.result("i-1", "launch", None, None, "changed")


def test_summary_counts():
    summary = fr.summarize(sample())
    assert summary == {"total": 6, "changed": 2, "unchanged": 1, "skipped": 1, "held": 1, "rolled_back": 0, "failed": 1,
                       "by_action": {"associate": 1, "replace": 1},
                       "by_status": {"changed": 2, "unchanged": 1, "skipped": 1, "held": 1, "rolled_back": 0, "failed": 1}}
    assert fr.summarize([])["total"] == 0


def test_failed_instances_and_message():
    assert fr.failed_instances(sample()) == [{"instance_id": "i-6", "reason": "AccessDenied"}]
    msg = fr.failure_message(sample(), "converge")
    assert msg.startswith("1 of 6 instances failed to converge") and "i-6: AccessDenied" in msg


def test_bounded_diff():
    full = fr.bounded_diff(sample(), 50)
    assert full == {"before": {"i-1": {"p": "B"}, "i-3": {"p": None}}, "after": {"i-1": {"p": "A"}, "i-3": {"p": "A"}}}
    one = fr.bounded_diff(sample(), 1)
    assert list(one["before"]) == ["i-1", "not_shown"] and "1 more changed" in one["after"]["not_shown"]
    many = [fr.result("i-%04d" % n, "modify", {}, {"x": n}, "changed") for n in range(10000)]
    bounded = fr.bounded_diff(many, 50)
    assert len(bounded["after"]) == 51 and "9950 more" in bounded["after"]["not_shown"]


def test_combine_steps_counts_the_instances_a_stopped_rollout_did_not_reach():
    """not_reached and skipped_instances come from the module, so the role needs no pass over instances."""
    stop = "rollout stopped after batch 1/3: 2 of 2 instances failed (100.0% > max_fail_percentage=10)"
    profile = [fr.result("i-1", "associate", None, None, "failed", "AccessDenied"),
               fr.result("i-2", "associate", None, None, "failed", "AccessDenied"),
               fr.result("i-3", "associate", {"p": None}, {"p": "A"}, "changed"),
               fr.result("i-4", "none", {"p": "A"}, {"p": "A"}, "unchanged"),
               fr.result("i-5", "none", None, None, "skipped", stop),
               fr.result("i-6", "none", None, None, "skipped", stop)]
    metadata = [fr.result(r["instance_id"], "none", None, None, "skipped", stop) for r in profile[4:]]
    gone = [fr.result("i-0", "none", None, None, "skipped", "instance is terminated")]
    order = ["i-1", "i-2", "i-3", "i-4", "i-5", "i-6"]
    out = fr.combine_steps({"profile": profile, "metadata": metadata}, gone, order, 2, stop)
    assert out["summary"]["not_reached"] == 2 and out["summary"]["skipped"] == 3
    assert out["skipped_instances"] == [{"instance_id": "i-0", "reason": "instance is terminated"}]
    assert [b["not_reached"] for b in out["batches"]] == [0, 0, 2]
    # without a stop, a skipped step is a reason of its own, never "not reached"
    calm = fr.combine_steps({"profile": profile[2:4]}, gone, ["i-3", "i-4"])
    assert calm["summary"]["not_reached"] == 0 and [b["not_reached"] for b in calm["batches"]] == [0]
    assert calm["skipped_instances"] == out["skipped_instances"]


def test_lanes_isolate_failures_and_run_follow_ups():
    def work(n):
        if n % 3 == 0:
            raise RuntimeError("boom %d" % n)
        return n * 10
    lanes = Lanes(4)
    futures = {n: lanes.submit("even" if n % 2 == 0 else "odd", work, n) for n in range(10)}
    follow = []

    def first():
        follow.append(lanes.submit("second", lambda: "next"))  # a task may submit the next step of its instance
        return "first"
    lanes.submit("first", first)
    lanes.join()
    out = [futures[n].result() for n in range(10)]
    assert [o if not isinstance(o, Failure) else "F" for o in out] == ["F", 10, 20, "F", 40, 50, "F", 70, 80, "F"]
    assert str(out[3].exc) == "boom 3"
    assert follow[0].result() == "next"


def test_lanes_run_at_the_same_time():
    """A lane whose tasks wait (a bucket out of tokens) does not hold up another lane."""
    import threading
    gate = threading.Event()
    lanes = Lanes(1)
    blocked = lanes.submit("slow", gate.wait, 5)
    quick = lanes.submit("quick", lambda: gate.set() or "done")
    lanes.join()
    assert quick.result() == "done" and blocked.result() is True


def test_poll_in_bulk_until_done(fake_time):
    polls = []

    def check(pending):
        polls.append(set(pending))
        return {i for i in pending if i > len(polls)}
    assert poll({1, 2, 3}, check, 100) == set()
    assert polls == [{1, 2, 3}, {2, 3}, {3}]


def test_poll_times_out_naming_the_rest(fake_time):
    assert poll({1, 2}, lambda p: {2}, 5) == {2} and fake_time.now <= 5


def test_validate_execution():
    assert validate_execution({"concurrency": 10, "wait_timeout": 300, "max_diff_instances": 50}) == []
    errs = validate_execution({"concurrency": 65, "wait_timeout": 0, "max_diff_instances": -1,
                               "rate_limits": {"x": 1}})
    assert len(errs) == 4
    assert any("concurrency=65" in e and "1 to 64" in e for e in errs)
