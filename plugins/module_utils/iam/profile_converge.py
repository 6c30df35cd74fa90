# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""iam_instance_profile's engine: its options, the profile converged (present) or deleted (absent). Private to the
collection: no stable API.

    argument_spec() -> dict            the module's own options (the connection options aside)
    validate(params) -> list[str]      pure: every input error, before any AWS call
    converge(module, ctx, progress) -> the module's result
        `module` is the AnsibleModule, or an aws.module.Call (one entry of iam_identity: its params validated by
        argument_spec, the task's check mode, its own warnings); ctx the AwsContext of its connection.

AWS facts relied on (profiles.py has the calls): IAM is global and eventually consistent - a profile created or a
role added a moment ago may not be visible to EC2 yet (NEEDS_WAIT: wait_profile_ready), and a role created a moment
ago may not be readable yet (IAM_NEW_ENTITY); an instance profile holds at most one role; a profile in use by an
instance cannot be deleted (absent disassociates first with force).
"""

from __future__ import annotations

from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import (
    iam_arn, name_of, validate_iam_name, validate_iam_path, validate_name_or_arn,
)
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import PlanError
from ansible_collections.keyless.aws.plugins.module_utils.aws.plan import Plan, apply_plan, apply_plan_or_replan, diff
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import IAM_NEW_ENTITY
from ansible_collections.keyless.aws.plugins.module_utils.aws.tags import validate_tags
from ansible_collections.keyless.aws.plugins.module_utils.iam import profiles as ip

PROFILE_NAME_MAX = 128
ROLE_NAME_MAX = 64
WAIT_TIMEOUT_RANGE = (1, 3600)
# Changes after which EC2 may not see the profile (or its role) yet.
NEEDS_WAIT = ("CreateInstanceProfile", "AddRoleToInstanceProfile")


def argument_spec():
    return dict(
        name=dict(type="str", required=True),
        path=dict(type="str"),
        role=dict(type="str"),
        tags=dict(type="dict"),
        purge_tags=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=120),
        force=dict(type="bool", default=False),
    )


def validate(params):
    """Every input error, before any AWS call."""
    errors = [validate_iam_name(params["name"], "name", PROFILE_NAME_MAX)]
    if params.get("path") is not None:
        errors.append(validate_iam_path(params["path"], "path"))
    if params.get("role"):
        errors.append(validate_name_or_arn(params["role"], "role", "role", ROLE_NAME_MAX))
    errors.extend(validate_tags(params.get("tags"), "tags"))
    low, high = WAIT_TIMEOUT_RANGE
    if not low <= params["wait_timeout"] <= high:
        errors.append("wait_timeout=%r is out of range: use %d to %d seconds" % (params["wait_timeout"], low, high))
    return [e for e in errors if e]


def desired_state(params):
    return {"name": params["name"], "path": params.get("path"), "role": name_of(params.get("role")),
            "tags": params.get("tags"), "purge_tags": params["purge_tags"]}


def _resolve_role(module, ctx, iam, desired, current):
    """The ARN of the role to add (None when no role is added); fails when the role does not exist."""
    role = desired["role"]
    given = module.params.get("role") or ""
    if not role or (current is not None and role in current["roles"]):
        return current["role_arn"] if current and role else None
    # Outside check mode a missing role may be one created a moment ago: IAM may not show it yet.
    info = ip.role_ref(iam, role, retry=None if module.check_mode else IAM_NEW_ENTITY)
    if info is None:
        msg = ("role=%r: IAM has no role of that name; create it first (keyless.aws.iam_role) or fix the name"
               % given)
        if not module.check_mode:
            raise PlanError(msg)
        module.warn(msg + " (check mode: assuming an earlier task creates it)")
        if given.startswith("arn:"):
            return given
        return iam_arn(ctx.partition, ctx.account_id, "role", "/", role)
    if given.startswith("arn:") and info["arn"] != given:
        raise PlanError("role=%r: the role called %r has ARN %r (different path, account or partition)"
                        % (given, role, info["arn"]))
    return info["arn"]


def present(module, ctx, desired, progress):
    iam = ctx.client("iam")
    current = ip.observe_profile(iam, desired["name"])
    new_role_arn = _resolve_role(module, ctx, iam, desired, current)
    plan = ip.plan_present(desired, current, desired["purge_tags"])
    if not plan:
        return plan, current, current
    if module.check_mode:
        partition, account = (ctx.partition, ctx.account_id) if current is None else (None, None)
        return plan, current, ip.predict(desired, current, partition, account, new_role_arn)

    def replan():  # another target of this account created the profile a moment ago (IAM is global)
        nonlocal current
        current = ip.observe_profile(iam, desired["name"], retry=IAM_NEW_ENTITY)
        return ip.plan_present(desired, current, desired["purge_tags"])

    plan = apply_plan_or_replan(ctx.client, plan, progress, replan)
    params = module.params
    if params["wait"] and any(c.operation in NEEDS_WAIT for c in plan):
        obj = ip.wait_profile_ready(iam, desired["name"], timeout=params["wait_timeout"], role=desired["role"])
    else:
        obj = ip.observe_profile(iam, desired["name"])
    return plan, current, obj


def absent(module, ctx, progress):
    iam = ctx.client("iam")
    current = ip.observe_profile(iam, module.params["name"])
    associations = []
    if current is not None:
        associations = ip.active_associations(ctx.client("ec2"), current["arn"])
    plan = ip.plan_absent(current, associations, module.params["force"])
    if plan and not module.check_mode:
        first = Plan([c for c in plan if c.operation == "DisassociateIamInstanceProfile"])
        rest = Plan([c for c in plan if c.operation != "DisassociateIamInstanceProfile"])
        progress.expect(plan)
        apply_plan(ctx.client, first, progress)
        if first and module.params["wait"]:
            ip.wait_disassociated(ctx.client("ec2"), current["arn"], [a["association_id"] for a in associations],
                                  timeout=module.params["wait_timeout"])
        apply_plan(ctx.client, rest, progress)
    return plan, current, [a["instance_id"] for a in associations]


def converge(module, ctx, progress):
    params = module.params
    desired = desired_state(params)
    if params["state"] == "present":
        plan, current, obj = present(module, ctx, desired, progress)
        return dict(changed=plan.changed, instance_profile=obj, changes=plan.as_list(),
                    diff=diff(ip.declared(current, desired), ip.declared(obj, desired)))
    plan, current, disassociated = absent(module, ctx, progress)
    return dict(changed=plan.changed, instance_profile=None, changes=plan.as_list(), disassociated=disassociated,
                diff=diff(ip.declared(current, {"role": "", "tags": {}}), {}))
