# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The step interface of the fleet engine: what rollout.Rollout runs, and what a fleet module reads back.
Private to the collection.

A step is one kind of change to every selected instance (steps.py: ProfileStep, MetadataStep). The rollout
calls, in this order:

    prepare(run, actionable)        once, before any plan: the step's own bulk reads (the desired profile, the
                                    associations, IMDSv1 usage). actionable: {instance_id: record}
    plan(record)                    per instance, pure: an InstanceChange, or a finished result record
                                    (results.result(): unchanged, held) when there is nothing to call
    apply(run, change)              per change, on the thread of its lane: the calls of one instance ->
                                    {"action", "settled", "reason" (optional)}; an exception fails that
                                    instance only (reported with operation(change) and the instance id)
    settled(run, pending_ids)       bulk re-read while waiting -> the ids still pending
    gated(change)                   whether the change is one a safe rollout enforces in waves (waves.py);
                                    an instance with a gated change goes in its wave, every other instance in
                                    the first one (False by default)
    watch(run, changes, since)  after a wave settled, for its gated changes: watch them and undo what
                                    breaks -> {instance_id: (status, reason, after)} of the instances it undid
                                    ({} by default)
    hold(instance_id, reason)       the rollout held a planned change back (no wave of this run takes it)
and reads `name` (the key of its results), `wait_reason` (why an instance still pending at wait_timeout
failed). A module reads `verb` (for results.failure_message), report() and held().
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class InstanceChange:
    """What one step will do to one instance: `data` is the step's own (the association, the request)."""
    instance_id: str
    action: str
    before: Any
    after: Any
    lane: str
    data: Any = None


class Step:
    """Base class of a fleet step; see the module docstring for the order of the calls."""

    name = None          # "profile": the key of this step's results
    verb = None          # "converge their instance profile": how a failure message names the work
    wait_reason = None   # "the association did not become associated": a wait_timeout failure's reason

    def prepare(self, run, actionable):
        """The step's bulk reads for the whole fleet, before any plan (none by default)."""

    def plan(self, record):
        """InstanceChange, or a result record when the instance needs no call (pure)."""
        raise NotImplementedError

    def operation(self, change):
        """The AWS operation a failure of `change` is reported under."""
        raise NotImplementedError

    def apply(self, run, change):
        """The calls of one instance -> {"action", "settled", "reason" (optional)}."""
        raise NotImplementedError

    def settled(self, run, pending):
        """The ids of `pending` not settled yet (bulk reads)."""
        raise NotImplementedError

    def gated(self, change):
        """Whether a safe rollout enforces this change in waves (no by default)."""
        return False

    def hold(self, instance_id, reason):
        """The rollout held back this instance's planned change (no wave of this run takes it)."""

    def watch(self, run, changes, since):
        """Watch a wave's gated changes after they settled and undo what breaks (nothing by default)."""
        return {}

    def report(self):
        """What the step adds to its module's result ({} by default)."""
        return {}

    def held(self):
        """Instances the step held back on purpose ([{instance_id, ...}]; none by default)."""
        return []
