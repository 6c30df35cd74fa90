# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-instance result records, summary counts and bounded --diff output of the fleet modules.

    result(instance_id, action, before, after, status, reason=None) -> dict
        action: none, associate, replace, disassociate_associate, disassociate, modify
        status: unchanged, changed, skipped, held, failed (in check mode `changed` = would change)
    summarize(results) -> {total, changed, unchanged, skipped, held, failed, by_action, by_status}
        by_action counts the actions of changed (or would-change) instances only.
    failed_instances(results) -> [{instance_id, reason}]
    bounded_diff(results, max_instances) -> {"before": {...}, "after": {...}}
        before/after of at most max_instances changed instances (sorted by id), plus
        "not_shown": <count of the rest> when the fleet is bigger.
    failure_message(results, verb) -> str naming every failed instance and why
"""

from __future__ import annotations

STATUSES = ("unchanged", "changed", "skipped", "held", "failed")
ACTIONS = ("none", "associate", "replace", "disassociate_associate", "disassociate", "modify")


def result(instance_id, action, before, after, status, reason=None):
    if status not in STATUSES:
        raise ValueError("unknown status %r" % (status,))
    if action not in ACTIONS:
        raise ValueError("unknown action %r" % (action,))
    return {"instance_id": instance_id, "action": action, "before": before, "after": after,
            "status": status, "reason": reason}


def summarize(results):
    by_status = dict.fromkeys(STATUSES, 0)
    by_action = {}
    for res in results:
        by_status[res["status"]] += 1
        if res["status"] == "changed":
            by_action[res["action"]] = by_action.get(res["action"], 0) + 1
    summary = {"total": len(results)}
    summary.update(by_status)
    summary["by_action"] = by_action
    summary["by_status"] = dict(by_status)
    return summary


def failed_instances(results):
    return [{"instance_id": r["instance_id"], "reason": r["reason"]} for r in results if r["status"] == "failed"]


def bounded_diff(results, max_instances):
    changed = sorted((r for r in results if r["status"] == "changed"), key=lambda r: r["instance_id"])
    shown = changed[:max(0, max_instances)]
    before = {r["instance_id"]: r["before"] for r in shown}
    after = {r["instance_id"]: r["after"] for r in shown}
    rest = len(changed) - len(shown)
    if rest:
        note = "%d more changed instances not shown (max_diff_instances=%d); see the instances return value" % (
            rest, max_instances)
        before["not_shown"] = note
        after["not_shown"] = note
    return {"before": before, "after": after}


def failure_message(results, verb):
    failed = failed_instances(results)
    lines = ["%s: %s" % (f["instance_id"], f["reason"]) for f in failed]
    return "%d of %d instances failed to %s (every other instance was converged): %s" % (
        len(failed), len(results), verb, "; ".join(lines))
