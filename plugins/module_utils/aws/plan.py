# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change, Plan and the one apply: what a module will do, computed without I/O, then done in order.
Private to the collection.

    Change(operation, target, params, before=None, after=None, retry=None, service="iam", gone_ok=False,
           region=None)
        One mutating AWS call: `operation` as AWS names it (CreateRole, AddRoleToInstanceProfile), its
        arguments, the resource it touches, what it changes (before/after, shown to users), the RetryPolicy
        of the answers that mean "not yet" for it (retries.py), whether "it is gone already" (NoSuchEntity
        and friends) is success (a removal that another run did first), and the region of its client when
        it is not the module's. `params` may be a function of the responses of the plan's earlier calls
        (a call that needs what an earlier one returned, like the version number CreateLaunchTemplateVersion
        assigns).
        .action is the snake_case name users see in `changes` (create_role, attach_role_policy).
    Plan(changes)         an ordered list of changes; .add(...), .changed, .as_list() (the `changes` return value)
    apply_plan(client_for, plan, progress) -> [response, ...]     client_for(service[, region]) -> client
        Makes the calls in order through retries.call, recording each one done in `progress`
        (module.Progress), so a failure half-way reports what was done and what was not.
    apply_plan_or_replan(client_for, plan, progress, replan) -> the plan applied
        apply_plan, except that when a call finds that another run did its work a moment ago (two
        inventory targets of one account converge the account's IAM at the same time, IAM being global):
        a create answered EntityAlreadyExists, or AddRoleToInstanceProfile answered LimitExceeded (a
        profile holds one role: the other run added it), it plans once more from a fresh observation
        (replan() -> Plan) and applies that: the run converges what is left instead of failing on work
        someone else just did, and fails as usual if what is there is not what it wants.
    diff(before, after)   the `diff` return value
Check mode never calls apply_plan: the module returns the plan and the predicted object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import RetryPolicy, call, xform_name

# Answers to a removal meaning the thing is gone already: the goal is reached.
GONE_CODES = frozenset(("NoSuchEntity", "InvalidAssociationID.NotFound"))
# Answers meaning another run did this call's work in the meantime: observe and plan again.
DONE_MEANWHILE = {"Create": frozenset(("EntityAlreadyExists",)), "AddRoleToInstanceProfile": frozenset(("LimitExceeded",))}


def _done_meanwhile(change, code):
    for operation, codes in DONE_MEANWHILE.items():
        if change.operation.startswith(operation) and code in codes:
            return True
    return False


@dataclass
class Change:
    operation: str
    target: str
    params: dict = field(default_factory=dict)
    before: Any = None
    after: Any = None
    retry: Optional[RetryPolicy] = None
    service: str = "iam"
    gone_ok: bool = False
    region: Optional[str] = None

    @property
    def action(self):
        return xform_name(self.operation)

    def as_dict(self):
        return {"action": self.action, "operation": self.operation, "target": self.target,
                "before": self.before, "after": self.after}


@dataclass
class Plan:
    changes: list = field(default_factory=list)

    def add(self, operation, target, params=None, before=None, after=None, retry=None, service="iam",
            gone_ok=False):
        self.changes.append(Change(operation, target, params or {}, before, after, retry, service, gone_ok))
        return self

    def extend(self, changes):
        self.changes.extend(changes)
        return self

    @property
    def changed(self):
        return bool(self.changes)

    def actions(self):
        return [c.action for c in self.changes]

    def as_list(self):
        return [c.as_dict() for c in self.changes]

    def __iter__(self):
        return iter(self.changes)

    def __len__(self):
        return len(self.changes)


def apply_plan(client_for, plan, progress):
    """Make every call of `plan` in order (see the module docstring); client_for(service) -> client. A failed call
    raises its AwsCallError with `responses`: the answers of the calls made before it."""
    progress.expect(plan)
    responses = []
    for change in plan:
        try:
            client = client_for(change.service, change.region) if change.region else client_for(change.service)
            params = change.params(responses) if callable(change.params) else change.params
            response = call(client, change.operation, params, change.retry, change.target)
        except AwsCallError as exc:
            if not (change.gone_ok and exc.code in GONE_CODES):
                exc.responses = responses  # the answers of the calls made before this one
                raise
            response = None
        progress.did(change)
        responses.append(response)
    return responses


def apply_plan_or_replan(client_for, plan, progress, replan):
    """apply_plan(plan); when a call finds its work done meanwhile by another run, apply replan() (once): the
    calls already made stay done, the rest is planned again from what is there now."""
    try:
        apply_plan(client_for, plan, progress)
        return plan
    except AwsCallError as exc:
        made = {id(c) for c in progress.done}
        failed = next((c for c in plan if id(c) not in made), None)
        if failed is None or not _done_meanwhile(failed, exc.code):
            raise
    done = [c for c in plan if id(c) in made]
    planned = {id(c) for c in plan}
    progress.expected = [c for c in progress.expected if id(c) not in planned or id(c) in made]
    fresh = replan()
    apply_plan(client_for, fresh, progress)
    return Plan(done + list(fresh))


def diff(before, after):
    """The `diff` return value Ansible prints with --diff."""
    return {"before": before if before is not None else {}, "after": after if after is not None else {}}
