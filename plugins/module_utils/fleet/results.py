# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-instance result records, summary counts and bounded --diff output of the fleet modules.

    result(instance_id, action, before, after, status, reason=None) -> dict
        action: none, associate, replace, disassociate_associate, disassociate, modify
        status: unchanged, changed, skipped, held, rolled_back, failed (in check mode `changed` = would change);
        rolled_back: changed, then undone by the watch of its wave (waves.py), with the reason
    summarize(results) -> {total, changed, unchanged, skipped, held, rolled_back, failed, by_action, by_status}
        by_action counts the actions of changed (or would-change) instances only.
    failed_instances(results) -> [{instance_id, reason}]
    bounded_diff(results, max_instances) -> {"before": {...}, "after": {...}}
        before/after of at most max_instances changed instances (sorted by id), plus
        "not_shown": <count of the rest> when the fleet is bigger.
    failure_message(results, verb) -> str naming every failed instance and why
    combine_steps(...), combined_diff(...), steps_failure_message(combined): the same for several steps

Private to the collection: no stable API.
"""

from __future__ import annotations

STATUSES = ("unchanged", "changed", "skipped", "held", "rolled_back", "failed")
# What a run changed: an instance rolled back had calls made on it (the change, then its undoing).
CHANGED = ("changed", "rolled_back")
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


def steps_failure_message(combined):
    """failure_message of a several-step run (combine_steps' dict): every failed instance with its step."""
    failed = combined["failed_instances"]
    return "%d of %d instances failed (every other instance was converged): %s" % (
        len(failed), len(combined["instances"]),
        "; ".join("%s (%s step): %s" % (f["instance_id"], f["step"], f["reason"]) for f in failed))


# ---- several steps per instance (ec2_instance_identity)

# An instance's status is its worst step's, in this order.
PRECEDENCE = ("failed", "rolled_back", "held", "changed", "skipped", "unchanged")


def _combined(entry, steps):
    recs = [(name, entry[name]) for name in steps if entry.get(name)]
    if not recs:
        return entry
    statuses = {rec["status"] for _name, rec in recs}
    entry["status"] = next(s for s in PRECEDENCE if s in statuses)
    reasons = ["%s: %s" % (name, rec["reason"]) for name, rec in recs if rec.get("reason") and rec["status"] != "unchanged"]
    entry["reason"] = "; ".join(reasons) or None
    return entry


def combine_steps(results_by_step, skipped, order_ids, batch_size=None, stop_reason=None):
    """One record per instance from each step's result records (pure): {instance_id, status, reason, <step>:
    record or None}, with summary (combined counts, and each step's own under its name), failed_instances
    ({instance_id, step, reason}), batches (per batch_size instances of order_ids: changed, failed, held,
    and not_reached: skipped because the rollout stopped with stop_reason before their calls started) and
    skipped_instances ({instance_id, reason} of the skipped instances that were reached: not actionable or not
    selected). summary counts not_reached too, so a caller needs no pass over instances for these figures."""
    steps = list(results_by_step)
    by_id = {}
    for rec in skipped:
        entry = dict({name: None for name in steps}, instance_id=rec["instance_id"], status=rec["status"],
                     reason=rec["reason"])
        by_id[rec["instance_id"]] = entry
    for name, recs in results_by_step.items():
        for rec in recs:
            entry = by_id.setdefault(rec["instance_id"], dict({n: None for n in steps}, instance_id=rec["instance_id"],
                                                              status="unchanged", reason=None))
            entry[name] = rec
    instances = [_combined(by_id[iid], steps) for iid in sorted(by_id)]
    summary = {"total": len(instances)}
    summary.update({status: sum(1 for e in instances if e["status"] == status) for status in STATUSES})
    for name, recs in results_by_step.items():
        summary[name] = summarize(list(recs) + list(skipped))
    failed = []
    for entry in instances:
        for name in steps:
            if entry.get(name) and entry[name]["status"] == "failed":
                failed.append({"instance_id": entry["instance_id"], "step": name, "reason": entry[name]["reason"]})
        if entry["status"] == "failed" and not any(entry.get(name) for name in steps):
            failed.append({"instance_id": entry["instance_id"], "step": "selection", "reason": entry["reason"]})
    not_reached = {e["instance_id"] for e in instances if _not_reached(e, steps, stop_reason)}
    summary["not_reached"] = len(not_reached)
    size = batch_size or max(1, len(order_ids))
    batches = []
    for number, start in enumerate(range(0, len(order_ids), size), 1):
        chunk = [by_id[iid] for iid in order_ids[start:start + size] if iid in by_id]
        batches.append({"batch": number, "instances": len(chunk),
                        "changed": sum(1 for e in chunk if any((e.get(n) or {}).get("status") == "changed" for n in steps)),
                        "failed": sum(1 for e in chunk if e["status"] == "failed"),
                        "held": sum(1 for e in chunk if e["status"] == "held"),
                        "not_reached": sum(1 for e in chunk if e["instance_id"] in not_reached)})
    skipped_instances = [{"instance_id": e["instance_id"], "reason": e["reason"]} for e in instances
                         if e["status"] == "skipped" and e["instance_id"] not in not_reached]
    return {"changed": any(e["status"] in CHANGED or any((e.get(n) or {}).get("status") in CHANGED for n in steps)
                           for e in instances),
            "instances": instances, "summary": summary, "failed_instances": failed, "batches": batches,
            "skipped_instances": skipped_instances}


def _not_reached(entry, steps, stop_reason):
    """Skipped because the rollout stopped (stop_reason) before any call of the instance started."""
    return bool(stop_reason) and entry["status"] == "skipped" and any(entry.get(n) for n in steps) and all(
        (entry.get(n) or {}).get("status") in (None, "skipped", "unchanged")
        and (entry.get(n) or {}).get("reason") in (None, stop_reason) for n in steps)


def _is_step(value):
    """A step's result record in a combined entry (not the entry's other dicts, such as its owner)."""
    return isinstance(value, dict) and "status" in value and "before" in value


def combined_diff(instances, max_instances):
    """--diff of a several-step run: each changed instance's steps before and after, bounded like bounded_diff."""
    steps_of = [e for e in instances if any(_is_step(v) and v["status"] == "changed" for v in e.values())]
    shown = steps_of[:max(0, max_instances)]
    before = {e["instance_id"]: {k: v["before"] for k, v in e.items() if _is_step(v)} for e in shown}
    # a step that does not change the instance (held, unchanged) shows no change, whatever it would have done
    after = {e["instance_id"]: {k: v["after"] if v["status"] == "changed" else v["before"] for k, v in e.items()
                                if _is_step(v)} for e in shown}
    rest = len(steps_of) - len(shown)
    if rest:
        note = "%d more changed instances not shown (max_diff_instances=%d); see the instances return value" % (
            rest, max_instances)
        before["not_shown"] = after["not_shown"] = note
    return {"before": before, "after": after}
