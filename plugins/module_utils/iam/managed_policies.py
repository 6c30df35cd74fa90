# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Customer-managed IAM policies: observe, plan (pure), apply.

Facts the plan is built on:
- A managed policy keeps at most 5 versions. A changed document becomes a new default version; at
  the limit the oldest non-default version is deleted first.
- Description and path cannot be changed after creation (IAM has no call for it). We refuse with a
  message rather than silently ignoring what the user declared: the policy must be recreated.
- A managed policy document may have 6,144 characters as IAM counts them (documents.policy_length);
  the module checks it before any call.
- DeletePolicy needs the policy detached from every role, user and group and every non-default
  version deleted. A policy used as a permissions boundary is refused instead: removing a boundary
  widens what the entity may do, which an ordinary delete must not do behind the user's back.

Private to the collection: no stable API.
"""

from __future__ import annotations

import json
import re

from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import iam_arn
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import PlanError
from ansible_collections.keyless.aws.plugins.module_utils.aws.plan import Plan
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import IAM_SETTLING, NOT_FOUND, call, paginate
from ansible_collections.keyless.aws.plugins.module_utils.iam.documents import parse_policy, policies_equal
from ansible_collections.keyless.aws.plugins.module_utils.aws.tags import (
    apply_tags, diff_tags, plan_tag_changes, tags_from_boto3, tags_to_boto3,
)

MAX_VERSIONS = 5
_VERSION_NUMBER = re.compile(r"^v(\d+)$")


class PolicyPlanError(PlanError):
    """The declared policy cannot be reached from the existing one; the message says what to do."""


def _date(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def _version_number(version_id):
    match = _VERSION_NUMBER.match(version_id or "")
    return int(match.group(1)) if match else 0


def _document(raw):
    """GetPolicyVersion's Document: botocore decodes it to a dict; some stacks leave URL-encoded JSON."""
    if isinstance(raw, dict):
        return raw
    return parse_policy(raw, "PolicyVersion.Document")


# ---------------------------------------------------------------------------------------------- observe

def observe_policy(iam, arn):
    """The policy (default document, versions, tags) or None when there is no policy at that ARN."""
    answer = call(iam, "GetPolicy", {"PolicyArn": arn}, resource=arn, missing=NOT_FOUND)
    if answer is None:
        return None
    raw = answer["Policy"]
    version = call(iam, "GetPolicyVersion", {"PolicyArn": arn, "VersionId": raw["DefaultVersionId"]},
                   resource=arn)["PolicyVersion"]
    versions = paginate(iam, "ListPolicyVersions", "Versions", {"PolicyArn": arn}, resource=arn)
    tags = paginate(iam, "ListPolicyTags", "Tags", {"PolicyArn": arn}, resource=arn)
    return {
        "arn": raw["Arn"],
        "policy_name": raw["PolicyName"],
        "policy_id": raw.get("PolicyId"),
        "path": raw.get("Path", "/"),
        "default_version_id": raw["DefaultVersionId"],
        "description": raw.get("Description") or "",
        "document": _document(version["Document"]),
        "tags": tags_from_boto3(tags),
        "attachment_count": raw.get("AttachmentCount", 0),
        "permissions_boundary_usage_count": raw.get("PermissionsBoundaryUsageCount", 0),
        "create_date": _date(raw.get("CreateDate")),
        "update_date": _date(raw.get("UpdateDate")),
        "versions": [{"version_id": v["VersionId"], "is_default": bool(v.get("IsDefaultVersion")),
                      "create_date": _date(v.get("CreateDate"))} for v in versions],
    }


def find_policy_arn(iam, name):
    """The ARN of the customer-managed policy called `name` at any path, or None.

    Policy names are unique in an account whatever the path, so a policy that is not at the path we
    looked at may still exist elsewhere; only then do we list the account's local policies.
    """
    for policy in paginate(iam, "ListPolicies", "Policies", {"Scope": "Local"}, resource=name):
        if policy["PolicyName"] == name:
            return policy["Arn"]
    return None


def list_entities(iam, arn):
    """Roles, users and groups the policy is attached to (as a permissions policy)."""
    params = {"PolicyArn": arn, "PolicyUsageFilter": "PermissionsPolicy"}
    entities = {}
    for kind, key, name in (("roles", "PolicyRoles", "RoleName"), ("users", "PolicyUsers", "UserName"),
                            ("groups", "PolicyGroups", "GroupName")):
        items = paginate(iam, "ListEntitiesForPolicy", key, params, resource=arn)
        entities[kind] = sorted({item[name] for item in items})
    return entities


def list_boundary_users(iam, arn):
    """Roles and users that use the policy as their permissions boundary."""
    params = {"PolicyArn": arn, "PolicyUsageFilter": "PermissionsBoundary"}
    names = ["role/" + r["RoleName"] for r in paginate(iam, "ListEntitiesForPolicy", "PolicyRoles", params, resource=arn)]
    names += ["user/" + u["UserName"] for u in paginate(iam, "ListEntitiesForPolicy", "PolicyUsers", params, resource=arn)]
    return sorted(set(names))


# ---------------------------------------------------------------------------------------------- plan

def plan_present(desired, current, purge_tags=True):
    """Changes that make the policy match `desired`; raises PolicyPlanError for immutable fields.

    desired: {name, path (None: not managed), description (None: not managed), document (dict),
              tags (None: not managed)}
    """
    plan = Plan()
    name = desired["name"]
    tags = desired.get("tags")
    if current is None:
        params = {"PolicyName": name, "Path": desired.get("path") or "/",
                  "PolicyDocument": json.dumps(desired["document"])}
        if desired.get("description"):
            params["Description"] = desired["description"]
        initial_tags = diff_tags({}, tags, False)[0]
        if initial_tags:
            params["Tags"] = tags_to_boto3(initial_tags)
        plan.add("CreatePolicy", name, params, before=None, after=desired["document"])
        return _with_retries(plan)

    arn = current["arn"]
    _refuse_immutable(desired, current)
    if not policies_equal(current["document"], desired["document"]):
        oldest = oldest_deletable_version(current["versions"])
        if len(current["versions"]) >= MAX_VERSIONS:
            if oldest is None:  # pragma: no cover - IAM always has one default among 5
                raise PolicyPlanError("policy %s has %d versions and none can be deleted" % (arn, MAX_VERSIONS))
            plan.add("DeletePolicyVersion", arn, {"PolicyArn": arn, "VersionId": oldest},
                     before=oldest, after=None)
        plan.add("CreatePolicyVersion", arn,
                 {"PolicyArn": arn, "PolicyDocument": json.dumps(desired["document"]), "SetAsDefault": True},
                 before=current["document"], after=desired["document"])
    return _with_retries(plan_tag_changes(plan, arn, {"PolicyArn": arn}, current["tags"], tags, purge_tags,
                                          "TagPolicy", "UntagPolicy"))


def _refuse_immutable(desired, current):
    name = desired["name"]
    if desired.get("path") and desired["path"] != current["path"]:
        raise PolicyPlanError(
            "path=%r: policy %r exists with path %r and IAM cannot move a managed policy; delete it "
            "(state=absent) and create it again, or set path to %r"
            % (desired["path"], name, current["path"], current["path"]))
    if desired.get("description") is not None and desired["description"] != current["description"]:
        raise PolicyPlanError(
            "description=%r: policy %r exists with description %r and IAM cannot change the description of "
            "a managed policy after it is created; delete it (state=absent) and create it again, or set "
            "description to the current one (or leave it out)"
            % (desired["description"], name, current["description"]))


def oldest_deletable_version(versions):
    """The oldest non-default version id (what IAM's 5-version limit makes us delete), or None."""
    candidates = [v for v in versions if not v["is_default"]]
    if not candidates:
        return None
    candidates.sort(key=lambda v: (_version_number(v["version_id"]), str(v.get("create_date") or "")))
    return candidates[0]["version_id"]


def plan_absent(current, entities):
    """Detach from every role, user and group, delete non-default versions, delete the policy."""
    plan = Plan()
    if current is None:
        return plan
    arn = current["arn"]
    for role in entities.get("roles", []):
        plan.add("DetachRolePolicy", "role/" + role, {"RoleName": role, "PolicyArn": arn}, before=arn)
    for user in entities.get("users", []):
        plan.add("DetachUserPolicy", "user/" + user, {"UserName": user, "PolicyArn": arn}, before=arn)
    for group in entities.get("groups", []):
        plan.add("DetachGroupPolicy", "group/" + group, {"GroupName": group, "PolicyArn": arn}, before=arn)
    for version in current["versions"]:
        if not version["is_default"]:
            plan.add("DeletePolicyVersion", arn, {"PolicyArn": arn, "VersionId": version["version_id"]},
                     before=version["version_id"])
    plan.add("DeletePolicy", arn, {"PolicyArn": arn}, before=arn)
    return _with_retries(plan)


def _with_retries(plan):
    """Every call may meet ConcurrentModification; a detachment that finds nothing is done already."""
    for change in plan:
        change.retry = IAM_SETTLING
        change.gone_ok = change.operation.startswith("Detach")
    return plan


def next_version_id(versions):
    return "v%d" % (max([_version_number(v["version_id"]) for v in versions] or [0]) + 1)


def predict(desired, current, plan, partition, account_id):
    """The policy as it will be after the plan (what check mode returns)."""
    if current is None:
        path = desired.get("path") or "/"
        return {"arn": iam_arn(partition, account_id, "policy", path, desired["name"]), "policy_name": desired["name"],
                "policy_id": None, "path": path, "default_version_id": "v1",
                "description": desired.get("description") or "", "document": desired["document"],
                "tags": diff_tags({}, desired.get("tags") or {}, False)[0], "attachment_count": 0}
    obj = public(current)
    if "CreatePolicyVersion" in [c.operation for c in plan]:
        obj["default_version_id"] = next_version_id(current["versions"])
        obj["document"] = desired["document"]
    if desired.get("tags") is not None:
        to_set, to_remove = diff_tags(current["tags"], desired["tags"], desired.get("purge_tags", True))
        obj["tags"] = apply_tags(current["tags"], to_set, to_remove)
    return obj


PUBLIC_KEYS = ("arn", "policy_name", "policy_id", "path", "default_version_id", "description", "document",
               "tags", "attachment_count")


def public(observed):
    """The returned `policy` object (no internal version bookkeeping)."""
    if observed is None:
        return None
    return {key: observed.get(key) for key in PUBLIC_KEYS}


def declared(obj, desired):
    """What the user declared, for --diff."""
    if obj is None:
        return {}
    out = {"policy_name": obj["policy_name"], "path": obj["path"], "policy": obj["document"]}
    if desired.get("description") is not None:
        out["description"] = obj["description"]
    if desired.get("tags") is not None:
        out["tags"] = obj["tags"]
    return out
