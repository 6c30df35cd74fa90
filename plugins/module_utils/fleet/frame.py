# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The frame every fleet module runs in: observe once, plan each step per instance, apply in lanes, wait in
bulk, report. Private to the collection.

A step (steps.py) is one kind of change to every selected instance: the instance profile, the metadata
options. A module runs one step (ec2_profile_association, ec2_metadata_options) or several over one observe
(ec2_instance_identity): every step's calls go to the lane of the AWS bucket they draw from, and the lanes
drain at the same time, so the fleet converges in the time of its slowest bucket, not the sum of them.

    fleet_argument_spec(extra) -> dict      selector + execution options + the module's own
    start(module, errors) -> FleetRun        every input error (selector, execution, connection, the
                                             module's own) raises InputError before any AWS call
    observe(module, run) -> (actionable, skipped)
        actionable: {instance_id: record} of selected instances a step may act on (running or stopped);
        skipped: result records of selected instances in other states and of instance_ids not found.
    converge(module, run, steps, actionable, progress, order=False, batch_size=None, max_fail_percentage=None)
        -> {step name: [result records]} for the actionable instances. order=True: an instance's later
        steps run only after its earlier ones succeeded (otherwise each step stands alone). batch_size /
        max_fail_percentage: once every instance of the first k batches is done, a failure rate above the
        percentage stops the rollout (instances whose calls have not started are skipped). Batch k + 1 starts
        as soon as batch k - 1 is judged, so the next batch's calls run while the previous batch's last ones
        finish, and at most one batch beyond those judged is under way when the rollout stops.
    finish(module, run, results, verb, extra=None, failure=None) -> the result dict of a one-step module
        (raises TaskFailure to fail with it when any instance failed or `failure` is given)

A step provides: name, verb, prepare(run, actionable), plan(record) -> InstanceChange or a result record,
apply(run, change) -> {"action", "settled", "reason" (optional)}, settled(run, pending_ids) -> still pending, wait_reason.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError, TaskFailure
from ansible_collections.keyless.aws.plugins.module_utils.aws.module import context
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import poll
from ansible_collections.keyless.aws.plugins.module_utils.fleet.executor import (
    Failure,
    FleetRun,
    Lanes,
    connection_pool_size,
    execution_argument_spec,
    validate_execution,
)
from ansible_collections.keyless.aws.plugins.module_utils.fleet.results import (
    bounded_diff,
    failed_instances,
    failure_message,
    result,
    summarize,
)
from ansible_collections.keyless.aws.plugins.module_utils.fleet.selection import (
    observe_instances,
    selector_argument_spec,
    validate_selector,
)

# A fleet module never acts on an instance in transition or gone, whatever `states` says.
ACTIONABLE_STATES = ("running", "stopped")
NOT_ACTIONABLE_REASON = {
    "pending": "instance is pending (launching): not changed while in transition; rerun once it is running",
    "stopping": "instance is stopping: not changed while in transition; rerun once it is stopped",
    "shutting-down": "instance is shutting down (terminating): nothing to change",
    "terminated": "instance is terminated: nothing to change",
}


@dataclass
class InstanceChange:
    """What one step will do to one instance: `data` is the step's own (the association, the request)."""
    instance_id: str
    action: str
    before: Any
    after: Any
    lane: str
    data: Any = None


class Skipped:
    """A change not started because the rollout was stopped (or an earlier step of the instance failed)."""

    def __init__(self, reason):
        self.reason = reason


def fleet_argument_spec(extra):
    spec = selector_argument_spec()
    spec.update(execution_argument_spec())
    spec.update(extra)
    return spec


def start(module, errors=()):
    params = module.params
    errors = list(errors) + validate_selector(params) + validate_execution(params)
    ctx = context(module, errors, require_region=True, max_pool_connections=connection_pool_size(params))
    return FleetRun(ctx, params)


def observe(module, run):
    selection = observe_instances(run.client("ec2"), module.params)
    run.observe_calls = selection.calls  # what re-reading the whole selection costs (bulk waits)
    skipped = []
    actionable = {}
    for iid, rec in selection.instances.items():
        if rec["state"] in ACTIONABLE_STATES:
            actionable[iid] = rec
        else:
            skipped.append(result(iid, "none", None, None, "skipped", NOT_ACTIONABLE_REASON[rec["state"]]))
    for rec in selection.skipped:
        skipped.append(result(rec["instance_id"], "none", None, None, "skipped", rec["skip_reason"]))
    for iid in selection.missing:
        skipped.append(result(iid, "none", None, None, "failed",
                              "instance not found in region %s (instance_ids)" % run.ctx.region))
    return actionable, skipped


class _Rollout:
    """Bookkeeping of a run in batches: which instances are done, and whether to stop."""

    def __init__(self, order_ids, batch_size, max_fail_percentage, tasks_per_instance):
        size = batch_size or max(1, len(order_ids))
        self.batch_of = {iid: i // size for i, iid in enumerate(order_ids)}
        self.batches = (len(order_ids) + size - 1) // size
        self.size = size
        self.max_fail = max_fail_percentage
        self.left = dict(tasks_per_instance)       # instance -> tasks not done yet
        self.open = [0] * self.batches             # batch -> instances not done yet
        for iid, n in self.left.items():
            if n:
                self.open[self.batch_of[iid]] += 1
        self.failed = set()
        self.done_batches = 0
        self.stop_reason = None
        self.lock = threading.Condition()
        self._close_finished()

    def _close_finished(self):
        while self.done_batches < self.batches and self.open[self.done_batches] == 0:
            self.done_batches += 1
            processed = min(self.done_batches * self.size, len(self.batch_of))
            failed = sum(1 for iid in self.failed if self.batch_of[iid] < self.done_batches)
            if self.max_fail is not None and self.stop_reason is None and processed and \
                    100.0 * failed / processed > self.max_fail and self.done_batches < self.batches:
                self.stop_reason = ("rollout stopped after batch %d/%d: %d of %d instances failed (%.1f%% > "
                                    "max_fail_percentage=%s)" % (self.done_batches, self.batches, failed, processed,
                                                                 100.0 * failed / processed, self.max_fail))

    def finished(self, iid, failed):
        with self.lock:
            if failed:
                self.failed.add(iid)
            self.left[iid] -= 1
            if self.left[iid] == 0:
                self.open[self.batch_of[iid]] -= 1
                self._close_finished()
                self.lock.notify_all()

    def wait_closed(self, batch):
        """Block until every batch before `batch` is done (and judged), or the rollout stopped."""
        with self.lock:
            while self.done_batches < batch and self.stop_reason is None:
                self.lock.wait()

    def stopped(self):
        with self.lock:
            return self.stop_reason


def _plan_all(steps, actionable):
    planned = {step.name: {} for step in steps}
    results = {step.name: [] for step in steps}
    for iid in sorted(actionable):
        for step in steps:
            out = step.plan(actionable[iid])
            if isinstance(out, InstanceChange):
                planned[step.name][iid] = out
            else:
                results[step.name].append(out)
    return planned, results


def _record(step, change, outcome, results, pending):
    iid = change.instance_id
    if isinstance(outcome, Failure):
        results.append(result(iid, change.action, change.before, change.before, "failed",
                              AwsCallError.from_exception(outcome.exc, step.operation(change), iid).text()))
    elif isinstance(outcome, Skipped):
        results.append(result(iid, change.action, change.before, change.before, "skipped", outcome.reason))
    else:
        action = outcome.get("action") or change.action
        results.append(result(iid, action if action != "none" else change.action, change.before, change.after,
                              "changed", outcome.get("reason")))
        if not outcome.get("settled", True):
            pending.add(iid)


def converge(module, run, steps, actionable, progress, order=False, batch_size=None, max_fail_percentage=None):
    """See the module docstring."""
    for step in steps:
        step.prepare(run, actionable)
    planned, results = _plan_all(steps, actionable)
    run.phase("observe")
    if module.check_mode:
        for step in steps:
            for change in planned[step.name].values():
                results[step.name].append(result(change.instance_id, change.action, change.before, change.after,
                                                 "changed"))
        return results
    ids = sorted({iid for changes in planned.values() for iid in changes})
    tasks = {iid: sum(1 for step in steps if iid in planned[step.name]) for iid in ids}
    rollout = _Rollout(ids, batch_size, max_fail_percentage, tasks)
    lanes = Lanes(module.params["concurrency"])
    pending = {step.name: set() for step in steps}
    outcomes = {step.name: {} for step in steps}
    lock = threading.Lock()

    def run_step(index, change):
        step = steps[index]
        reason = rollout.stopped()
        if reason:
            outcome = Skipped(reason)
        else:
            try:
                outcome = step.apply(run, change)
                progress.mark_changed()
            except Exception as exc:  # pylint: disable=broad-except  # one instance never stops the others
                outcome = Failure(exc)
        with lock:
            outcomes[step.name][change.instance_id] = outcome
        failed = isinstance(outcome, Failure)
        if order:
            nxt = _next_step(index, change.instance_id)
            if nxt is not None:
                if failed or isinstance(outcome, Skipped):
                    why = outcome.reason if isinstance(outcome, Skipped) else (
                        "not changed: its %s step failed (ordered steps)" % step.name)
                    _skip_rest(nxt, change.instance_id, why)
                else:
                    lanes.submit(planned[steps[nxt].name][change.instance_id].lane, run_step, nxt,
                                 planned[steps[nxt].name][change.instance_id])
        rollout.finished(change.instance_id, failed)

    def _next_step(index, iid):
        for nxt in range(index + 1, len(steps)):
            if iid in planned[steps[nxt].name]:
                return nxt
        return None

    def _skip_rest(index, iid, why):
        for nxt in range(index, len(steps)):
            if iid in planned[steps[nxt].name]:
                with lock:
                    outcomes[steps[nxt].name][iid] = Skipped(why)
                rollout.finished(iid, False)

    # With max_fail_percentage, batch b starts once batch b - 2 is judged: the next batch runs while the
    # previous one's last calls finish (the lanes never run dry), and at most one batch beyond the judged
    # ones is under way when the rollout stops.
    gated = max_fail_percentage is not None and rollout.batches > 1
    for iid in ids:
        batch = rollout.batch_of[iid]
        if gated and batch >= 2:
            rollout.wait_closed(batch - 1)
        for index, step in enumerate(steps):
            change = planned[step.name].get(iid)
            if change is None:
                continue
            lanes.submit(change.lane, run_step, index, change)
            if order:
                break  # the next step of this instance is submitted when this one succeeds
    lanes.join()
    for step in steps:
        for iid in sorted(planned[step.name]):
            _record(step, planned[step.name][iid], outcomes[step.name][iid], results[step.name], pending[step.name])
    run.phase("apply")
    _wait(module, run, steps, results, pending)
    run.phase("wait")
    if rollout.stop_reason:
        run.stop_reason = rollout.stop_reason
    return results


def _wait(module, run, steps, results, pending):
    """Bulk waits of every step at the same time (reads only: they never hold a mutating bucket)."""
    params = module.params
    if not params["wait"]:
        return
    left = {}
    errors = []

    def wait_step(step):
        try:
            left[step.name] = poll(pending[step.name], lambda ids: step.settled(run, ids), params["wait_timeout"])
        except Exception as exc:  # pylint: disable=broad-except  # re-raised below, in the module's thread
            errors.append(exc)
    threads = [threading.Thread(target=wait_step, args=(step,)) for step in steps if pending[step.name]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    for step in steps:
        for res in results[step.name]:
            if res["instance_id"] in left.get(step.name, ()):
                res["status"] = "failed"
                res["reason"] = "%s within wait_timeout=%ss" % (step.wait_reason, params["wait_timeout"])


def payload(module, run, results, extra=None):
    """The return values every fleet module shares, for one step's results."""
    results = sorted(results, key=lambda r: r["instance_id"])
    out = dict(extra or {})
    out.update(
        changed=any(r["status"] == "changed" for r in results),
        instances=results,
        summary=summarize(results),
        failed_instances=failed_instances(results),
        api_calls=run.stats(),
        timings=run.timing_report(),
    )
    if module._diff:
        out["diff"] = bounded_diff(results, module.params.get("max_diff_instances") or 0)
    return out


def finish(module, run, results, verb, extra=None, failure=None):
    out = payload(module, run, results, extra)
    messages = []
    if out["failed_instances"]:
        messages.append(failure_message(out["instances"], verb))
    if failure:
        messages.append(failure)
    if messages:
        raise TaskFailure("; ".join(messages), out)
    return out
