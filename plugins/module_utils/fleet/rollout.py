# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet engine's scheduler: run steps (step.Step) over the actionable instances of one observe.
Private to the collection.

    Rollout(module, run, steps, progress, order=False, batch_size=None, max_fail_percentage=None)
        .converge(actionable) -> {step name: [result records]} for the actionable instances
    prepare every step, plan every instance (pure), then, unless in check mode: submit each change to the
    lane of the AWS bucket it draws from (executor.Lanes), record each outcome, and wait in bulk for the
    changes that did not settle. order=True: an instance's later steps run only after its earlier ones
    succeeded (otherwise each step stands alone). batch_size / max_fail_percentage: once every instance of the
    first k batches is done, a failure rate above the percentage stops the rollout (instances whose calls have
    not started are skipped, with run.stop_reason). Batch k + 1 starts as soon as batch k - 1 is judged, so
    the next batch's calls run while the previous batch's last ones finish, and at most one batch beyond
    those judged is under way when the rollout stops.

Waves (waves.py; waves / watch_seconds / rollback_threshold in the module's params): an instance with a change a
step gates (Step.gated: requiring IMDSv2) goes in its wave, every other instance in the first. Each wave is applied
and waited for like a whole run, then each step watches the wave's gated changes (Step.watch) and undoes what
breaks (status rolled_back); more than rollback_threshold percent of a wave undone stops the rollout (the later
waves' instances skipped with run.stop_reason). `waves` (the report): per wave, what was enforced, undone, not
reached. Without waves and watch there is one wave, and nothing is watched.
"""

from __future__ import annotations

import threading
import time

from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError
from ansible_collections.keyless.aws.plugins.module_utils.aws.parallel import Failure, parallel_map
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import poll
from ansible_collections.keyless.aws.plugins.module_utils.fleet.executor import Lanes
from ansible_collections.keyless.aws.plugins.module_utils.fleet.results import result
from ansible_collections.keyless.aws.plugins.module_utils.fleet.step import InstanceChange
from ansible_collections.keyless.aws.plugins.module_utils.fleet.waves import assign, over_threshold


class Skipped:
    """A change not started because the rollout was stopped (or an earlier step of the instance failed)."""

    def __init__(self, reason):
        self.reason = reason


class Batches:
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
        self.close_finished()

    def close_finished(self):
        """Judge every leading batch whose instances are all done (called with the lock held)."""
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
                self.close_finished()
                self.lock.notify_all()

    def wait_closed(self, batch):
        """Block until every batch before `batch` is done (and judged), or the rollout stopped."""
        with self.lock:
            while self.done_batches < batch and self.stop_reason is None:
                self.lock.wait()

    def stopped(self):
        with self.lock:
            return self.stop_reason


class Rollout:
    """One converge of `steps` over one observe; see the module docstring."""

    def __init__(self, module, run, steps, progress, order=False, batch_size=None, max_fail_percentage=None):
        self.module = module
        self.run = run
        self.steps = list(steps)
        self.progress = progress
        self.order = order
        self.batch_size = batch_size
        self.max_fail_percentage = max_fail_percentage
        self.planned = {step.name: {} for step in self.steps}   # step name -> {instance id: InstanceChange}
        self.results = {step.name: [] for step in self.steps}   # step name -> result records
        self.outcomes = {step.name: {} for step in self.steps}  # step name -> {instance id: outcome}
        self.pending = {step.name: set() for step in self.steps}
        self.batches = None
        self.lanes = None
        self.lock = threading.Lock()
        self.gated = set()
        self.waves = []  # the report of each wave (wave_entry)

    def converge(self, actionable):
        for step in self.steps:
            step.prepare(self.run, actionable)
        self.plan(actionable)
        self.run.phase("observe")
        groups, beyond = self.wave_groups()
        if self.module.check_mode:
            for step in self.steps:
                for change in self.planned[step.name].values():
                    self.results[step.name].append(result(change.instance_id, change.action, change.before,
                                                          change.after, "changed"))
            self.waves = self.run.waves = [self.wave_entry(n, ids) for n, ids in enumerate(groups, 1)]
            return self.results
        done = set()
        for number, ids in enumerate(groups, 1):
            entry = self.wave_entry(number, ids)
            self.waves.append(entry)
            self.run.waves = self.waves
            if self.run.stop_reason:
                self.skip(ids, self.run.stop_reason)
                entry["not_reached"] = len(ids)
                continue
            started = time.time()
            self.apply(set(ids))
            self.run.phase("apply")
            self.wait(set(ids))
            self.run.phase("wait")
            if self.batches.stop_reason:
                self.run.stop_reason = self.batches.stop_reason
            done.update(ids)
            self.judge_failures(done, number, len(groups))
            self.watch(entry, set(ids), started, number, len(groups))
            self.run.phase("watch")
        return self.results

    def judge_failures(self, done, number, total):
        """max_fail_percentage between waves: the batches of one wave judge only within it (its last batch has no
        next one to stop), so the instances of the waves done so far are judged before the next wave starts."""
        if self.max_fail_percentage is None or self.run.stop_reason or number >= total or not done:
            return
        failed = {res["instance_id"] for recs in self.results.values() for res in recs
                  if res["status"] == "failed" and res["instance_id"] in done}
        if 100.0 * len(failed) / len(done) > self.max_fail_percentage:
            self.run.stop_reason = ("rollout stopped after wave %d/%d: %d of %d instances failed (%.1f%% > "
                                    "max_fail_percentage=%s)" % (number, total, len(failed), len(done),
                                                                 100.0 * len(failed) / len(done),
                                                                 self.max_fail_percentage))

    # ------------------------------------------------------------------ waves

    def wave_groups(self):
        """([[instance ids] per wave], beyond): gated instances in their waves, the rest in the first. The instances
        no wave of this run takes are recorded held, with the reason."""
        ids = sorted({iid for changes in self.planned.values() for iid in changes})
        gated = {iid for step in self.steps for iid, change in self.planned[step.name].items() if step.gated(change)}
        waves = self.module.params.get("waves") or []
        groups, beyond = assign(gated, waves)
        first = [iid for iid in ids if iid not in gated]
        if first or not groups:
            groups = [sorted(first + (groups[0] if groups else []))] + groups[1:]
        reason = "not in a wave of this run (waves=%s): a later run takes it" % (waves,)
        for iid in beyond:
            for step in self.steps:
                change = self.planned[step.name].pop(iid, None)
                if change is not None:
                    step.hold(iid, reason)
                    self.results[step.name].append(result(iid, change.action, change.before, change.after, "held",
                                                          reason))
        self.gated = gated
        return [g for g in groups if g], beyond

    def wave_entry(self, number, ids):
        enforced = sorted(iid for iid in ids if iid in self.gated)
        return {"wave": number, "instances": len(ids), "enforced": len(enforced), "instance_ids": enforced,
                "watch_seconds": 0, "watched": 0, "rolled_back": [], "rollback_failed": [], "not_reached": 0,
                "stopped": None}

    def skip(self, ids, reason):
        for step in self.steps:
            for iid in sorted(ids):
                change = self.planned[step.name].get(iid)
                if change is not None:
                    self.results[step.name].append(result(iid, change.action, change.before, change.before,
                                                          "skipped", reason))

    def watch(self, entry, ids, started, number, total):
        """Each step watches the wave's gated changes that went through; what it undoes is rolled_back."""
        params = self.module.params
        seconds = params.get("watch_seconds") or 0
        if not seconds:
            return
        for step in self.steps:
            # the step's own outcome decides: a change that went through is watched, whatever another step did
            failed = {res["instance_id"] for res in self.results[step.name]
                      if res["instance_id"] in ids and res["status"] in ("failed", "skipped")}
            changes = [change for iid, change in sorted(self.planned[step.name].items())
                       if iid in ids and iid not in failed and step.gated(change)]
            if not changes:
                continue
            entry["watch_seconds"] = seconds
            entry["watched"] = len(changes)
            undone = step.watch(self.run, changes, started)
            for res in self.results[step.name]:
                if res["instance_id"] in undone:
                    status, reason, after = undone[res["instance_id"]]
                    res.update(status=status, reason=reason, after=after)
            entry["rolled_back"] = sorted(iid for iid, out in undone.items() if out[0] == "rolled_back")
            entry["rollback_failed"] = sorted(iid for iid, out in undone.items() if out[0] != "rolled_back")
        threshold = params.get("rollback_threshold")
        # an instance whose undo failed broke as much as one rolled back (more: it is still broken)
        broken = entry["rolled_back"] + entry["rollback_failed"]
        if threshold is not None and over_threshold(len(broken), entry["watched"], threshold) and number < total:
            self.run.stop_reason = entry["stopped"] = (
                "rollout stopped after wave %d/%d: %d of %d instances it required IMDSv2 on were rolled back%s "
                "(%.1f%% > rollback_threshold=%s): %s" % (
                    number, total, len(broken), entry["watched"],
                    " or failed to be" if entry["rollback_failed"] else "",
                    100.0 * len(broken) / entry["watched"], threshold, ", ".join(sorted(broken))))

    def plan(self, actionable):
        for iid in sorted(actionable):
            for step in self.steps:
                out = step.plan(actionable[iid])
                if isinstance(out, InstanceChange):
                    self.planned[step.name][iid] = out
                else:
                    self.results[step.name].append(out)

    # ------------------------------------------------------------------ apply

    def apply(self, wave):
        ids = sorted({iid for changes in self.planned.values() for iid in changes if iid in wave})
        tasks = {iid: sum(1 for step in self.steps if iid in self.planned[step.name]) for iid in ids}
        self.batches = Batches(ids, self.batch_size, self.max_fail_percentage, tasks)
        self.lanes = Lanes(self.module.params["concurrency"])
        # With max_fail_percentage, batch b starts once batch b - 2 is judged: the next batch runs while the
        # previous one's last calls finish (the lanes never run dry), and at most one batch beyond the judged
        # ones is under way when the rollout stops.
        gated = self.max_fail_percentage is not None and self.batches.batches > 1
        for iid in ids:
            batch = self.batches.batch_of[iid]
            if gated and batch >= 2:
                self.batches.wait_closed(batch - 1)
            for index, step in enumerate(self.steps):
                if iid not in self.planned[step.name]:
                    continue
                self.submit(index, iid)
                if self.order:
                    break  # the next step of this instance is submitted when this one succeeds
        self.lanes.join()
        for step in self.steps:
            for iid in sorted(self.planned[step.name]):
                if iid in wave:
                    self.record(step, self.planned[step.name][iid], self.outcomes[step.name][iid])

    def submit(self, index, iid):
        change = self.planned[self.steps[index].name][iid]
        self.lanes.submit(change.lane, self.run_step, index, change)

    def run_step(self, index, change):
        """One change, on its lane's thread; with order=True, then the instance's next step."""
        step = self.steps[index]
        reason = self.batches.stopped()
        if reason:
            outcome = Skipped(reason)
        else:
            try:
                outcome = step.apply(self.run, change)
                self.progress.mark_changed()
            except Exception as exc:  # pylint: disable=broad-except  # one instance never stops the others
                outcome = Failure(exc)
        with self.lock:
            self.outcomes[step.name][change.instance_id] = outcome
        failed = isinstance(outcome, Failure)
        if self.order:
            nxt = self.next_step(index, change.instance_id)
            if nxt is not None:
                if failed or isinstance(outcome, Skipped):
                    why = outcome.reason if isinstance(outcome, Skipped) else (
                        "not changed: its %s step failed (ordered steps)" % step.name)
                    self.skip_rest(nxt, change.instance_id, why)
                else:
                    self.submit(nxt, change.instance_id)
        self.batches.finished(change.instance_id, failed)

    def next_step(self, index, iid):
        for nxt in range(index + 1, len(self.steps)):
            if iid in self.planned[self.steps[nxt].name]:
                return nxt
        return None

    def skip_rest(self, index, iid, why):
        for nxt in range(index, len(self.steps)):
            if iid in self.planned[self.steps[nxt].name]:
                with self.lock:
                    self.outcomes[self.steps[nxt].name][iid] = Skipped(why)
                self.batches.finished(iid, False)

    def record(self, step, change, outcome):
        iid = change.instance_id
        results = self.results[step.name]
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
                self.pending[step.name].add(iid)

    # ------------------------------------------------------------------ wait

    def wait(self, wave):
        """Bulk waits of every step at the same time (reads only: they never hold a mutating bucket)."""
        params = self.module.params
        pending = {name: set(ids) for name, ids in self.pending.items()}
        for ids in self.pending.values():
            ids.clear()
        if not params["wait"]:
            return
        waiting = [step for step in self.steps if pending[step.name]]
        still = parallel_map(lambda step: poll(pending[step.name], lambda ids: step.settled(self.run, ids),
                                               params["wait_timeout"]), waiting, len(waiting))
        left = {step.name: ids for step, ids in zip(waiting, still)}
        for step in self.steps:
            for res in self.results[step.name]:
                if res["instance_id"] in wave and res["instance_id"] in left.get(step.name, ()):
                    res["status"] = "failed"
                    res["reason"] = "%s within wait_timeout=%ss" % (step.wait_reason, params["wait_timeout"])
