# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""iam_role's plan (pure): desired + observed role -> the calls, the predicted role, the declared view.

The role dict is roles.py's observe_role() shape. Nothing here makes a call.

Order of a new role, so that a failure half-way is as unlikely and as harmless as possible: everything
that can be judged by reading was judged before the plan (documents by role_params, managed policies and
the boundary by GetPolicy). CreateRole carries the trust policy, path, description, duration, boundary
and tags in one call; then the inline policies (IAM judges their action and resource names, the calls
most likely still to be refused), then the managed policies, whose existence was just read.

Private to the collection: no stable API.
"""

from __future__ import annotations

import json

from ansible_collections.keyless.aws.plugins.module_utils.aws.plan import Plan
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import IAM_DELETE, IAM_NEW_ENTITY, IAM_SETTLING
from ansible_collections.keyless.aws.plugins.module_utils.aws.tags import apply_tags, diff_tags, plan_tag_changes, tags_to_boto3
from ansible_collections.keyless.aws.plugins.module_utils.iam.documents import policies_equal

DECLARABLE = ("path", "description", "max_session_duration", "assume_role_policy_document",
              "permissions_boundary", "managed_policies", "inline_policies", "tags")


# ---- plan (pure) -----------------------------------------------------------------------------------

def _partition_of(arn, default="aws"):
    parts = (arn or "").split(":")
    return parts[1] if len(parts) > 2 and parts[0] == "arn" else default


def plan_role(desired, observed):
    """What to call so the role matches `desired` (a dict; keys left as None are not managed).

    desired: state, name, path, description, max_session_duration, assume_role_policy_document (dict),
    permissions_boundary ("" removes), managed_policies (ARNs), purge_managed_policies, inline_policies
    (name -> dict), purge_inline_policies, tags, purge_tags.
    observed: observe_role()'s dict, or None.
    """
    if desired.get("state") == "absent":
        plan = plan_role_deletion(observed)
    elif observed is None:
        plan = _plan_create(desired)
    else:
        plan = _plan_update(desired, observed)
    return _with_retries(plan)


# A removal answered "not found" has reached its goal (another run may have raced us).
_REMOVALS = ("RemoveRoleFromInstanceProfile", "DetachRolePolicy", "DeleteRolePolicy")


def _with_retries(plan):
    """The answers that mean "not yet" for each call: right after CreateRole IAM may still answer
    NoSuchEntity; DeleteRole may meet DeleteConflict while the detachments before it settle; any call
    may meet ConcurrentModification."""
    created = bool(plan.changes) and plan.changes[0].operation == "CreateRole"
    for change in plan:
        if change.operation == "DeleteRole":
            change.retry = IAM_DELETE
        elif created and change.operation != "CreateRole":
            change.retry = IAM_NEW_ENTITY
        else:
            change.retry = IAM_SETTLING
        change.gone_ok = change.operation in _REMOVALS
    return plan


def plan_role_deletion(observed):
    """The safe order: out of every instance profile, detach managed, delete inline, then the role."""
    plan = Plan()
    if observed is None:
        return plan
    name = observed["role_name"]
    for profile in observed.get("instance_profiles") or []:
        plan.add("RemoveRoleFromInstanceProfile", profile["instance_profile_name"],
                 {"InstanceProfileName": profile["instance_profile_name"], "RoleName": name})
    for arn in observed.get("managed_policies") or []:
        plan.add("DetachRolePolicy", arn, {"RoleName": name, "PolicyArn": arn})
    for policy_name in sorted(observed.get("inline_policies") or {}):
        plan.add("DeleteRolePolicy", policy_name, {"RoleName": name, "PolicyName": policy_name})
    plan.add("DeleteRole", name, {"RoleName": name}, before=name, after=None)
    return plan


def _plan_create(desired):
    name = desired["name"]
    params = {"RoleName": name, "Path": desired.get("path") or "/",
              "AssumeRolePolicyDocument": json.dumps(desired["assume_role_policy_document"], sort_keys=True)}
    if desired.get("description") is not None:
        params["Description"] = desired["description"]
    if desired.get("max_session_duration") is not None:
        params["MaxSessionDuration"] = desired["max_session_duration"]
    if desired.get("permissions_boundary"):
        params["PermissionsBoundary"] = desired["permissions_boundary"]
    to_set = diff_tags({}, desired.get("tags"), False)[0]
    if to_set:
        params["Tags"] = tags_to_boto3(to_set)
    plan = Plan().add("CreateRole", name, params, before=None, after=name)
    for policy_name, doc in sorted((desired.get("inline_policies") or {}).items()):
        plan.add("PutRolePolicy", policy_name,
                 {"RoleName": name, "PolicyName": policy_name, "PolicyDocument": json.dumps(doc, sort_keys=True)})
    for arn in sorted(set(desired.get("managed_policies") or [])):
        plan.add("AttachRolePolicy", arn, {"RoleName": name, "PolicyArn": arn})
    return plan


def _plan_update(desired, observed):
    name = observed["role_name"]
    partition = _partition_of(observed.get("arn"))
    plan = Plan()
    trust = desired.get("assume_role_policy_document")
    if trust is not None and not policies_equal(trust, observed.get("assume_role_policy_document"), partition):
        plan.add("UpdateAssumeRolePolicy", name,
                 {"RoleName": name, "PolicyDocument": json.dumps(trust, sort_keys=True)},
                 before=observed.get("assume_role_policy_document"), after=trust)
    _plan_update_role(plan, desired, observed)
    _plan_boundary(plan, desired, observed)
    _plan_managed(plan, desired, observed)
    _plan_inline(plan, desired, observed, partition)
    return plan_tag_changes(plan, name, {"RoleName": name}, observed.get("tags") or {}, desired.get("tags"),
                            desired.get("purge_tags", True), "TagRole", "UntagRole")


def _plan_update_role(plan, desired, observed):
    description = desired.get("description")
    duration = desired.get("max_session_duration")
    new_description = observed.get("description") if description is None else description
    new_duration = observed.get("max_session_duration") if duration is None else duration
    if (new_description or "") == (observed.get("description") or "") and new_duration == observed.get("max_session_duration"):
        return
    # UpdateRole with a field left out keeps it on AWS but drops it on moto: send both, right on both.
    params = {"RoleName": observed["role_name"]}
    if new_description is not None:
        params["Description"] = new_description
    if new_duration is not None:
        params["MaxSessionDuration"] = new_duration
    plan.add("UpdateRole", observed["role_name"], params,
             before={"description": observed.get("description"), "max_session_duration": observed.get("max_session_duration")},
             after={"description": new_description, "max_session_duration": new_duration})


def _plan_boundary(plan, desired, observed):
    wanted = desired.get("permissions_boundary")
    current = observed.get("permissions_boundary")
    name = observed["role_name"]
    if wanted is None or (wanted or None) == current:
        return
    if wanted == "":
        plan.add("DeleteRolePermissionsBoundary", name, {"RoleName": name}, before=current, after=None)
    else:
        plan.add("PutRolePermissionsBoundary", name, {"RoleName": name, "PermissionsBoundary": wanted},
                 before=current, after=wanted)


def _plan_managed(plan, desired, observed):
    wanted = desired.get("managed_policies")
    if wanted is None:
        return
    name = observed["role_name"]
    current = set(observed.get("managed_policies") or [])
    if desired.get("purge_managed_policies"):
        for arn in sorted(current - set(wanted)):
            plan.add("DetachRolePolicy", arn, {"RoleName": name, "PolicyArn": arn}, before=arn, after=None)
    for arn in sorted(set(wanted) - current):
        plan.add("AttachRolePolicy", arn, {"RoleName": name, "PolicyArn": arn}, before=None, after=arn)


def _plan_inline(plan, desired, observed, partition):
    wanted = desired.get("inline_policies")
    if wanted is None:
        return
    name = observed["role_name"]
    current = observed.get("inline_policies") or {}
    for policy_name, doc in sorted(wanted.items()):
        if not policies_equal(doc, current.get(policy_name), partition):
            plan.add("PutRolePolicy", policy_name,
                     {"RoleName": name, "PolicyName": policy_name, "PolicyDocument": json.dumps(doc, sort_keys=True)},
                     before=current.get(policy_name), after=doc)
    if desired.get("purge_inline_policies"):
        for policy_name in sorted(set(current) - set(wanted)):
            plan.add("DeleteRolePolicy", policy_name, {"RoleName": name, "PolicyName": policy_name},
                     before=current[policy_name], after=None)


# ---- predicted object and diff (pure) ----------------------------------------------------------------

def predict_role(desired, observed, arn):
    """The role as it will be after plan_role(desired, observed) is applied (None for absent)."""
    if desired.get("state") == "absent":
        return None
    base = dict(observed) if observed else {
        "arn": arn, "role_name": desired["name"], "role_id": None, "path": desired.get("path") or "/",
        "description": None, "max_session_duration": 3600, "assume_role_policy_document": None,
        "permissions_boundary": None, "managed_policies": [], "inline_policies": {}, "tags": {},
        "instance_profiles": [], "create_date": None,
    }
    out = dict(base)
    partition = _partition_of(base["arn"])
    for key in ("description", "max_session_duration"):
        if desired.get(key) is not None:
            out[key] = desired[key]
    trust = desired.get("assume_role_policy_document")
    if trust is not None and not policies_equal(trust, base["assume_role_policy_document"], partition):
        out["assume_role_policy_document"] = trust  # an equivalent document stays as IAM holds it: no false diff
    if desired.get("permissions_boundary") is not None:
        out["permissions_boundary"] = desired["permissions_boundary"] or None
    if desired.get("managed_policies") is not None:
        keep = [] if desired.get("purge_managed_policies") else list(base["managed_policies"])
        out["managed_policies"] = sorted(set(keep) | set(desired["managed_policies"]))
    if desired.get("inline_policies") is not None:
        current = base["inline_policies"]
        keep = {} if desired.get("purge_inline_policies") else dict(current)
        for name, doc in desired["inline_policies"].items():
            keep[name] = current[name] if policies_equal(doc, current.get(name), partition) else doc
        out["inline_policies"] = keep
    to_set, to_remove = diff_tags(base["tags"], desired.get("tags"), desired.get("purge_tags", True))
    out["tags"] = apply_tags(base["tags"], to_set, to_remove)
    return out


def declared_view(role, declared):
    """The part of a role the user declared (for diff before/after); {} when there is no role."""
    if not role:
        return {}
    view = {"role_name": role["role_name"]}
    for key in declared:
        if key in DECLARABLE:
            view[key] = role.get(key)
    return view


# ---- apply ---------------------------------------------------------------------------------------------
