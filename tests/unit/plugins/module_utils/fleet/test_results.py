"""Per-instance records, summary counts, bounded diff, the final failure message, bulk wait loop."""

from __future__ import annotations

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.fleet import results as fr
from ansible_collections.keyless.aws.plugins.module_utils.fleet.executor import (
    Failure,
    run_parallel,
    validate_execution,
    wait_until,
)


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
    assert summary == {"total": 6, "changed": 2, "unchanged": 1, "skipped": 1, "held": 1, "failed": 1,
                       "by_action": {"associate": 1, "replace": 1},
                       "by_status": {"changed": 2, "unchanged": 1, "skipped": 1, "held": 1, "failed": 1}}
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


def test_run_parallel_keeps_order_and_isolates_failures():
    def work(n):
        if n % 3 == 0:
            raise RuntimeError("boom %d" % n)
        return n * 10
    out = run_parallel(range(10), work, 4)
    assert [o if not isinstance(o, Failure) else "F" for o in out] == ["F", 10, 20, "F", 40, 50, "F", 70, 80, "F"]
    assert str(out[3].exc) == "boom 3"
    assert run_parallel([], work, 4) == []
    assert run_parallel([1], work, 1) == [10]


def test_wait_until_polls_in_bulk_until_done():
    clock = {"t": 0.0}
    polls = []

    def check(pending):
        polls.append(set(pending))
        return {i for i in pending if i > len(polls)}
    left = wait_until({1, 2, 3}, check, 100, clock=lambda: clock["t"],
                      sleep=lambda s: clock.__setitem__("t", clock["t"] + s))
    assert left == set()
    assert polls == [{1, 2, 3}, {2, 3}, {3}]


def test_wait_until_times_out_naming_the_rest():
    clock = {"t": 0.0}
    left = wait_until({1, 2}, lambda p: {2}, 5, clock=lambda: clock["t"],
                      sleep=lambda s: clock.__setitem__("t", clock["t"] + s))
    assert left == {2} and clock["t"] <= 5


def test_validate_execution():
    assert validate_execution({"concurrency": 10, "wait_timeout": 300, "max_diff_instances": 50}) == []
    errs = validate_execution({"concurrency": 65, "wait_timeout": 0, "max_diff_instances": -1,
                               "rate_limits": {"x": 1}})
    assert len(errs) == 4
    assert any("concurrency=65" in e and "1 to 64" in e for e in errs)
