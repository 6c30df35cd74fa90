# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The frame every fleet module runs in: observe once, plan each step per instance, apply in lanes, wait in
bulk, report. Private to the collection.

A step (step.Step; steps.py holds ProfileStep and MetadataStep) is one kind of change to every selected
instance. A module runs one step (ec2_profile_association, ec2_metadata_options) or several over one observe
(ec2_instance_identity): rollout.Rollout sends every step's calls to the lane of the AWS bucket they draw from,
and the lanes drain at the same time, so the fleet converges in the time of its slowest bucket, not the sum.

    fleet_argument_spec(extra) -> dict      selector + execution options + the module's own
    start(module, errors, ctx=None) -> FleetRun
        every input error (selector, execution, connection, the module's own) raises InputError before any AWS call;
        ctx: an AwsContext already made (a module over many targets makes each target's in one thread, with one
        model loader; its connection options checked)
    observe(module, run) -> (actionable, skipped)
        actionable: {instance_id: record} of selected instances a step may act on (running or stopped);
        skipped: result records of selected instances in other states and of instance_ids not found.
    converge(module, run, steps, actionable, progress, order=False, batch_size=None, max_fail_percentage=None)
        -> {step name: [result records]} for the actionable instances: Rollout(...).converge(actionable), see
        rollout.py for order, batch_size and max_fail_percentage.
    finish(module, run, results, verb, extra=None, failure=None, skipped=(), batch_size=None) -> the module's
        result dict; raises TaskFailure to fail with it when any instance failed, the rollout stopped or
        `failure` (a message of the module's own) is given.
        results: one step's result records (skipped ones included): payload(); or {step name: records} of a
        several-step run: steps_payload(), one entry per instance (results.combine_steps) with the records of
        the instances no step acted on given as `skipped`, batches of batch_size over the acted-on ids.
"""

from __future__ import annotations

from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import InputError, TaskFailure
from ansible_collections.keyless.aws.plugins.module_utils.aws.module import context
from ansible_collections.keyless.aws.plugins.module_utils.fleet.executor import (
    FleetRun,
    connection_pool_size,
    execution_argument_spec,
    validate_execution,
)
from ansible_collections.keyless.aws.plugins.module_utils.fleet.results import (
    CHANGED,
    bounded_diff,
    combine_steps,
    combined_diff,
    failed_instances,
    failure_message,
    result,
    steps_failure_message,
    summarize,
)
from ansible_collections.keyless.aws.plugins.module_utils.fleet.rollout import Rollout
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


def fleet_argument_spec(extra):
    spec = selector_argument_spec()
    spec.update(execution_argument_spec())
    spec.update(extra)
    return spec


def start(module, errors=(), ctx=None):
    params = module.params
    errors = list(errors) + validate_selector(params) + validate_execution(params)
    if ctx is None:
        ctx = context(module, errors, require_region=True, max_pool_connections=connection_pool_size(params))
    elif errors:
        raise InputError(errors)
    return FleetRun(ctx, params)


def observe(module, run):
    selection = observe_instances(run.client("ec2"), module.params)
    run.observe_calls = selection.calls  # what re-reading the whole selection costs (bulk waits)
    run.owners = {iid: rec["owner"] for iid, rec in selection.instances.items() if rec.get("owner")}
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


def converge(module, run, steps, actionable, progress, order=False, batch_size=None, max_fail_percentage=None):
    """See the module docstring."""
    return Rollout(module, run, steps, progress, order=order, batch_size=batch_size,
                   max_fail_percentage=max_fail_percentage).converge(actionable)


def with_owners(run, instances):
    """Each instance entry with `owner`: {kind, name, service} of the service that launched it, or None."""
    for entry in instances:
        owner = run.owners.get(entry["instance_id"])
        entry["owner"] = {key: owner[key] for key in ("kind", "name", "service")} if owner else None
    return instances


def owners_summary(run):
    """{owner kind: sorted names} over the selected instances (e.g. the Auto Scaling groups whose launch sources
    to converge next), without a pass over the results in Jinja."""
    out = {}
    for owner in run.owners.values():
        names = out.setdefault(owner["kind"], set())
        if owner.get("name"):
            names.add(owner["name"])
        group = owner["tags"].get("aws:autoscaling:groupName")
        if group and owner["kind"] not in ("autoscaling", "eks"):
            # the group of a Beanstalk, Batch or ECS instance: autoscaling_group_identity reports it left to its
            # owner (or converges it with include_owned); an EKS node group's group is EKS's alone
            out.setdefault("autoscaling", set()).add(group)
    return {kind: sorted(names) for kind, names in sorted(out.items())}


def payload(module, run, results, extra=None):
    """The return values every fleet module shares, for one step's results."""
    results = with_owners(run, sorted(results, key=lambda r: r["instance_id"]))
    out = dict(extra or {})
    out.update(
        changed=any(r["status"] in CHANGED for r in results),
        instances=results,
        summary=summarize(results),
        failed_instances=failed_instances(results),
        owners=owners_summary(run),
        waves=run.waves,
        stopped=run.stop_reason,
        api_calls=run.stats(),
        timings=run.timing_report(),
    )
    if module._diff:
        out["diff"] = bounded_diff(results, module.params.get("max_diff_instances") or 0)
    return out


def steps_payload(module, run, results_by_step, skipped, batch_size=None, extra=None):
    """The return values of a several-step run: one entry per instance (results.combine_steps)."""
    order_ids = sorted({rec["instance_id"] for recs in results_by_step.values() for rec in recs})
    out = combine_steps(results_by_step, skipped, order_ids, batch_size, run.stop_reason)
    with_owners(run, out["instances"])
    out.update(extra or {})
    out.update(stopped=run.stop_reason, owners=owners_summary(run), waves=run.waves, api_calls=run.stats(),
               timings=run.timing_report())
    if module._diff:
        out["diff"] = combined_diff(out["instances"], module.params.get("max_diff_instances") or 0)
    return out


def finish(module, run, results, verb, extra=None, failure=None, skipped=(), batch_size=None):
    """See the module docstring."""
    messages = []
    if isinstance(results, dict):
        out = steps_payload(module, run, results, skipped, batch_size, extra)
        if out["failed_instances"]:
            messages.append(steps_failure_message(out))
        if run.stop_reason:
            messages.append(run.stop_reason)
    else:
        out = payload(module, run, results, extra)
        if out["failed_instances"]:
            messages.append(failure_message(out["instances"], verb))
        if run.stop_reason:
            messages.append(run.stop_reason)
    if failure:
        messages.append(failure)
    if messages:
        raise TaskFailure("; ".join(messages), out)
    return out
