# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The frame the mutating fleet modules share: options, validation, observe, report.

    fleet_argument_spec(extra) -> dict          selector + execution options + the module's own
    start(module, errors) -> FleetRun           validates everything (selector, execution, connection,
                                                the module's own `errors`) before any AWS call
    observe(module, run) -> (actionable, results)
        actionable: {instance_id: record} of selected instances the module may act on (running or
        stopped); results: skipped records (other states, with the reason) and failed records for
        instance_ids that do not exist.
    finish(module, run, results, verb, extra=None, failure=None)
        exit_json (or fail_json when any instance failed, or `failure` is given) with changed,
        instances, summary, failed_instances, api_calls and a bounded diff.
"""

from __future__ import annotations

from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import fail_aws
from ansible_collections.keyless.aws.plugins.module_utils.fleet.selection import (
    observe_instances,
    selector_argument_spec,
    validate_selector,
)
from ansible_collections.keyless.aws.plugins.module_utils.fleet.executor import (
    FleetRun,
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
from ansible_collections.keyless.aws.plugins.module_utils.aws.module import context

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # pragma: no cover - sanity import test runs without botocore
    BotoCoreError = ClientError = Exception

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


def start(module, errors=()):
    params = module.params
    errors = list(errors) + validate_selector(params) + validate_execution(params)
    ctx = context(module, errors, require_region=True,
                  max_pool_connections=max(10, (params.get("concurrency") or 10) + 4))
    return FleetRun(ctx, params)


def observe(module, run):
    params = module.params
    try:
        selection = observe_instances(run.client("ec2"), params)
    except (ClientError, BotoCoreError) as exc:
        fail_aws(module, exc, "DescribeInstances", "the selected instances")
    run.observe_calls = selection.calls  # what re-reading the whole selection costs (bulk waits)
    results = []
    actionable = {}
    for iid, rec in selection.instances.items():
        if rec["state"] in ACTIONABLE_STATES:
            actionable[iid] = rec
        else:
            results.append(result(iid, "none", None, None, "skipped", NOT_ACTIONABLE_REASON[rec["state"]]))
    for rec in selection.skipped:
        results.append(result(rec["instance_id"], "none", None, None, "skipped", rec["skip_reason"]))
    for iid in selection.missing:
        results.append(result(iid, "none", None, None, "failed",
                              "instance not found in region %s (instance_ids)" % run.ctx.region))
    return actionable, results


def finish(module, run, results, verb, extra=None, failure=None):
    results = sorted(results, key=lambda r: r["instance_id"])
    payload = dict(extra or {})
    payload.update(
        changed=any(r["status"] == "changed" for r in results),
        instances=results,
        summary=summarize(results),
        failed_instances=failed_instances(results),
        api_calls=run.stats(),
        timings=run.timing_report(),
    )
    if module._diff:
        payload["diff"] = bounded_diff(results, module.params.get("max_diff_instances") or 0)
    messages = []
    if payload["failed_instances"]:
        messages.append(failure_message(results, verb))
    if failure:
        messages.append(failure)
    if messages:
        module.fail_json(msg="; ".join(messages), **payload)
    module.exit_json(**payload)
