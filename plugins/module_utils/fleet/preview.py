# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ec2_instance_identity would do on each of many account/region targets, in one process (ec2_fleet_preview).
Private to the collection: no stable API.

keyless.aws.converge runs it once on the controller, after the census and the accounts' IAM roles, for the targets
whose census found instances. A target whose fleet has nothing to change (converged) takes the preview as its fleet
step's result and runs no fleet module: a module process per target costs ~1.5 s of controller CPU for a
300-instance fleet before and after its calls (Python, boto3, the EC2 model, AnsiballZ, the controller reading its
result), more than everything else the target costs. Each entry is run by ec2_instance_identity's own engine
(instance_identity.converge) in check mode, so its result is the module's check-mode result, and for a converged
fleet - nothing that would change, fail or be held - that is the result the module would give outside check mode.

    entry_spec() -> dict                     the options of one entry of `targets`
    prepare(entries, base, isolate=False) -> list[Entry]
        Pure. Raises InputError listing every problem of every entry (its name, connection, the module's options:
        types, choices, the module's own checks) before any AWS call; with isolate, an entry's own problems stay with
        it (a row with them as its error, no call for it) and only a missing or repeated name raises.
    preview_all(prepared, workers) -> list[dict]
        One row per entry, in order: {name, result, converged, warnings, error}. result: the module's check-mode
        result; converged: converged(result). One AwsContext per entry (made in this thread, every context sharing
        one model loader); an entry whose calls fail (or whose fleet has failed instances) is a row with the
        module's failure message as its error and never stops the others.
    converged(result) -> bool
        Pure: nothing changed (would change), failed, was held back (by either step: an owned instance whose profile is
        left to its owner is held too), rolled back or stopped - then the role would not judge its outcome either.

AWS facts relied on: those of the fleet engine (frame.py: one observe per target; every read of check mode, none of
its writes); the preview is a snapshot, like every observe: an instance launched or changed after it is converged by
the next run.
"""

from __future__ import annotations

from ansible_collections.keyless.aws.plugins.module_utils.aws.connection import (
    AwsContext, aws_argument_spec, target_connection_problems, target_entry_spec, target_params,
)
from ansible_collections.keyless.aws.plugins.module_utils.aws.module import (
    Call, Progress, call_params, prepare_entries, run_entry,
)
from ansible_collections.keyless.aws.plugins.module_utils.aws.parallel import Failure, entry_contexts, parallel_map
from ansible_collections.keyless.aws.plugins.module_utils.fleet import census, instance_identity
from ansible_collections.keyless.aws.plugins.module_utils.fleet.executor import connection_pool_size, validate_execution
from ansible_collections.keyless.aws.plugins.module_utils.fleet.selection import validate_selector


def entry_spec():
    return target_entry_spec(options=dict(type="dict", required=True))


class Entry:
    """One target's work, checked: its name and the engine's call (connection options included); or, kept apart
    (prepare's isolate), the problems of its input."""

    def __init__(self, name, call, errors=()):
        self.name = name
        self.call = call
        self.errors = list(errors)


def _prepare_one(entry, base):
    label = "target %s" % entry.get("name")
    errors = ["%s: %s" % (label, e) for e in target_connection_problems(entry, base)]
    given = entry.get("options") or {}
    connection = sorted(set(given) & set(aws_argument_spec()))
    if connection:
        errors.append("%s: options %s are connection options: give them in the target's connection"
                      % (label, ", ".join(connection)))
    params, problems, warnings = call_params(
        instance_identity.argument_spec(), dict((k, v) for k, v in given.items() if k not in connection),
        "%s: options" % label)
    errors.extend(problems)
    if not problems:
        # the module's own checks, and those frame.start makes before its first call
        errors.extend("%s: %s" % (label, e) for e in instance_identity.validate(params) + validate_selector(params)
                      + validate_execution(params))
    if errors:
        return Entry(entry["name"], None, errors), errors
    params.update(target_params(entry, base))
    return Entry(entry["name"], Call(params, True, warnings)), []


def prepare(entries, base, isolate=False):
    """See the module docstring."""
    return prepare_entries(entries, census.structure_errors(entries), lambda entry: _prepare_one(entry, base), isolate)


# what the combined summary (results.combine_steps) counts per instance that makes a fleet not converged: held counts
# the metadata step's held instances (IMDSv1 calls, waves) and the profile step's (an owner's instance left to it)
NOT_CONVERGED = ("changed", "held", "rolled_back", "failed")


def converged(result):
    """See the module docstring."""
    summary = result.get("summary") or {}
    return not (result.get("changed") or result.get("failed_instances") or result.get("held")
                or result.get("rolled_back") or result.get("stopped") or any(summary.get(k) for k in NOT_CONVERGED))


def _context(params, loader):
    ctx = AwsContext(params, require_region=True, max_pool_connections=connection_pool_size(params), loader=loader)
    # the clients of the observe, made with the context (in one thread: entry_contexts)
    ctx.client("ec2")
    ctx.client("iam")
    return ctx


def preview_all(prepared, workers):
    """See the module docstring."""
    contexts = entry_contexts(prepared, lambda entry, loader: _context(entry.call.params, loader))

    def work(item):
        entry, ctx = item

        def preview(progress):
            if isinstance(ctx, Failure):
                raise ctx.exc
            return instance_identity.converge(entry.call, progress, ctx=ctx)

        return run_entry(preview, Progress())

    rows = []
    for entry, outcome in zip(prepared, parallel_map(work, list(zip(prepared, contexts)), workers, outcomes=True)):
        if isinstance(outcome, Failure):  # not an AWS, input or plan error (run_entry's): a bug, kept with its entry
            outcome = (None, {"msg": "%s: %s" % (outcome.exc.__class__.__name__, outcome.exc)})
        result, failed = outcome
        rows.append({"name": entry.name, "result": result, "converged": failed is None and converged(result),
                     "warnings": entry.call.warnings if entry.call else [],
                     "error": failed["msg"] if failed is not None else None})
    return rows
