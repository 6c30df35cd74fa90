# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""iam_role's engine: its options, the role observed, planned (role_plan) and converged. Private to the collection:
no stable API.

    argument_spec() -> dict; MUTUALLY_EXCLUSIVE    the module's own options (the connection options aside)
    converge(module, ctx, desired, progress) -> the module's result
        desired, errors = role_params.role_desired(module.params) first (pure: every input error, before any AWS
        call); `module` is the AnsibleModule, or an aws.module.Call (one entry of iam_identity: its params validated
        by argument_spec, the task's check mode, its own warnings); ctx the AwsContext of its connection.

AWS facts relied on (roles.py has the calls): IAM is global and eventually consistent - a role created a moment ago
may not be readable yet (IAM_NEW_ENTITY) nor assumable by EC2 (wait_role_ready); IAM cannot move a role to another
path; another target of the account may create the same role at the same moment (apply_plan_or_replan).
"""

from __future__ import annotations

from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import iam_arn
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import PlanError
from ansible_collections.keyless.aws.plugins.module_utils.aws.plan import apply_plan_or_replan, diff
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import IAM_NEW_ENTITY
from ansible_collections.keyless.aws.plugins.module_utils.iam import documents, role_checks, role_params, role_plan, roles


MUTUALLY_EXCLUSIVE = [("assume_role_policy_document", "trusted_services")]


def argument_spec():
    return dict(
        name=dict(type="str", required=True, aliases=["role_name"]),
        path=dict(type="str"),
        description=dict(type="str"),
        assume_role_policy_document=dict(type="json", aliases=["trust_policy"]),
        trusted_services=dict(type="list", elements="str"),
        max_session_duration=dict(type="int"),
        permissions_boundary=dict(type="str", aliases=["boundary"]),
        managed_policies=dict(type="list", elements="str", aliases=["managed_policy"]),
        purge_managed_policies=dict(type="bool", default=False),
        inline_policies=dict(type="dict"),
        purge_inline_policies=dict(type="bool", default=False),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=120),
        allow_admin=dict(type="bool", default=False),
        trust_policy_size_quota=dict(type="int", default=2048),
        validate_with_access_analyzer=dict(type="bool", default=False),
    )


def observe(module, ctx, client, desired):
    """The role as it is, plus the desired state completed with what needs AWS (policy ARNs, default trust)."""
    params = module.params
    desired["access_analyzer_findings"] = []
    if params["validate_with_access_analyzer"] and desired["state"] == "present":
        desired["access_analyzer_findings"] = role_checks.analyzer_findings(ctx.client("accessanalyzer"), desired,
                                                                            params["allow_admin"])
    observed = roles.observe_role(client, desired["name"])
    if desired["state"] == "absent":
        return observed
    for warning in role_checks.check_by_reading(ctx, client, desired, observed, module.check_mode, params["allow_admin"]):
        module.warn(warning)
    if observed and desired["path"] is not None and desired["path"] != observed["path"]:
        raise PlanError("path=%r but role %s exists at path %r: IAM cannot move a role; delete it "
                        "(state=absent) and create it again at the new path"
                        % (desired["path"], desired["name"], observed["path"]))
    if observed is None and desired["assume_role_policy_document"] is None:
        desired["assume_role_policy_document"] = documents.trust_policy_for_services(role_params.DEFAULT_TRUSTED_SERVICES)
    return observed


def converge(module, ctx, desired, progress):
    client = ctx.client("iam")
    before = observe(module, ctx, client, desired)
    plan = role_plan.plan_role(desired, before)
    arn = before["arn"] if before else None
    if arn is None and desired["state"] == "present":
        arn = iam_arn(ctx.partition, ctx.account_id, "role", desired["path"], desired["name"])
    after = role_plan.predict_role(desired, before, arn)
    if plan.changed and not module.check_mode:
        def replan():  # another target of this account created the role a moment ago (IAM is global)
            nonlocal before
            before = roles.observe_role(client, desired["name"], retry=IAM_NEW_ENTITY)
            return role_plan.plan_role(desired, before)

        plan = apply_plan_or_replan(ctx.client, plan, progress, replan)
        if desired["state"] == "present":
            if before is None and module.params["wait"]:
                roles.wait_role_ready(client, desired["name"], timeout=module.params["wait_timeout"])
            # Report what IAM now says, not what we hoped; a just-created role may need a moment to read back.
            after = roles.observe_role(client, desired["name"], retry=IAM_NEW_ENTITY) or after
    keys = role_params.declared_keys(module.params) if desired["state"] == "present" else list(role_plan.DECLARABLE)
    if before is None and "assume_role_policy_document" not in keys:
        keys.append("assume_role_policy_document")  # a new role gets a trust policy, declared or default
    return dict(changed=plan.changed, role=after, changes=plan.as_list(),
                access_analyzer_findings=desired["access_analyzer_findings"],
                diff=diff(role_plan.declared_view(before, keys), role_plan.declared_view(after, keys)))
