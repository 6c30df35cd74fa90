# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine of ec2_instance_identity: a fleet's instance profile and metadata options in one pass. Private to
the collection: no stable API.

The module is a shell over it; ec2_fleet_preview calls it for many targets in one process (check mode), so what it
predicts for a target is what the module would.

    argument_spec() -> dict                 the module's own options (the connection options aside)
    validate(params) -> list[str]           pure: the module's own input errors
    converge(module, progress, ctx=None) -> the module's result dict
        module: an AnsibleModule or an aws.module.Call (params with the connection options, check_mode, _diff);
        ctx: the target's AwsContext when the caller made it (frame.start); raises what run_module / run_entry turn into
        the module's failure (TaskFailure when an instance failed, the rollout stopped or instances were held
        with fail_on_held).

AWS facts relied on: those of frame.py (one observe: DescribeInstances and DescribeIamInstanceProfileAssociations,
1,000 a page) and steps.py (the calls of each step, their buckets).
"""

from __future__ import annotations

from ansible_collections.keyless.aws.plugins.module_utils.fleet import frame
from ansible_collections.keyless.aws.plugins.module_utils.fleet import metadata as md
from ansible_collections.keyless.aws.plugins.module_utils.fleet.associations import validate_profile_option
from ansible_collections.keyless.aws.plugins.module_utils.fleet.audit import normalize_expected, validate_expected
from ansible_collections.keyless.aws.plugins.module_utils.fleet.compliance import compliance
from ansible_collections.keyless.aws.plugins.module_utils.fleet.identities import read_identities
from ansible_collections.keyless.aws.plugins.module_utils.fleet.steps import MetadataStep, ProfileStep
from ansible_collections.keyless.aws.plugins.module_utils.fleet.waves import safe_rollout_argument_spec, validate_safe_rollout


def argument_spec():
    spec = md.metadata_argument_spec()
    spec.update(
        instance_profile=dict(type="str"),
        propagation_timeout=dict(type="int", default=120),
        order=dict(type="str", choices=["independent", "profile_first"], default="independent"),
        batch_size=dict(type="int", default=0),
        max_fail_percentage=dict(type="float"),
        expected=dict(type="dict"),
    )
    spec.update(safe_rollout_argument_spec())
    return frame.fleet_argument_spec(spec)


def validate(params):
    errors = (validate_profile_option(params.get("instance_profile")) + md.validate_metadata(params)
              + validate_expected(params.get("expected")) + validate_safe_rollout(params))
    if not params.get("instance_profile") and not md.desired_fields(params):
        errors.append("nothing to converge: give instance_profile, a metadata option (%s), or both"
                      % ", ".join(opt for opt, _api in md.FIELDS))
    for option, low, high in (("propagation_timeout", 0, None), ("batch_size", 0, None), ("max_fail_percentage", 0, 100)):
        value = params.get(option)
        if value is not None and (value < low or (high is not None and value > high)):
            errors.append("%s=%r: must be from %s%s" % (option, value, low, " to %s" % high if high is not None else " up"))
    return errors


def converge(module, progress, ctx=None):
    """See the module docstring."""
    params = module.params
    run = frame.start(module, validate(params), ctx=ctx)
    actionable, skipped = frame.observe(module, run)
    profile = ProfileStep(dict(params, state="present"), module.check_mode) if params.get("instance_profile") else None
    metadata = MetadataStep(params) if md.desired_fields(params) else None
    steps = [step for step in (profile, metadata) if step is not None]
    results = frame.converge(module, run, steps, actionable, progress, order=params["order"] == "profile_first",
                             batch_size=params["batch_size"] or None, max_fail_percentage=params["max_fail_percentage"])
    extra = {"instance_profile": None, "held": [], "rolled_back": [], "owned_instances": []}
    for step in steps:
        extra.update(step.report())
    if params.get("expected") is not None:
        extra["compliance"] = fleet_compliance(run, actionable, profile, params["expected"], results)
    failure = metadata.held_message() if metadata and params["fail_on_held"] else None
    return frame.finish(module, run, results, None, extra=extra, failure=failure, skipped=skipped,
                        batch_size=params["batch_size"] or None)


def fleet_compliance(run, actionable, profile, expected, results):
    """The audit's summaries before and after the run, from the one observe (fleet/compliance.py)."""
    associations, profiles = read_identities(
        run.client("ec2"), run.client("iam"), [iid for iid, rec in actionable.items() if rec["profile_arn"]],
        associations=profile.associations if profile else None, profile_arns=[profile.desired_arn] if profile else ())
    return compliance(actionable, associations, profiles, normalize_expected(expected), results,
                      profile.desired_arn if profile else None)
