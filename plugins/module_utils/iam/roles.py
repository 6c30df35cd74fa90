# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IAM roles: observe (reads only), plan (pure), apply, delete in the safe order, wait until readable.

The observed / predicted role is one plain dict (the module's `role` return value):
arn, role_name, role_id, path, description, max_session_duration, assume_role_policy_document,
permissions_boundary, managed_policies (ARNs), inline_policies (name -> document), tags,
instance_profiles, create_date.
"""

from __future__ import annotations

import time

try:
    from botocore.exceptions import ClientError, WaiterError
except ImportError:  # pragma: no cover - the module reports missing boto3 through AwsContext
    ClientError = WaiterError = Exception

from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError, error_code
from ansible_collections.keyless.aws.plugins.module_utils.aws.tags import tags_from_boto3
from ansible_collections.keyless.aws.plugins.module_utils.iam.documents import PolicyError, parse_policy

# IAM settles in seconds: retry briefly (about 15 s in all) on the codes that mean "not yet".
SETTLE_DELAYS = (1, 2, 4, 8)
READY_DELAY = 1.0  # seconds between the consecutive reads of wait_role_ready
_sleep = time.sleep  # replaced in tests


# ---- calling AWS ---------------------------------------------------------------------------------

def call(operation, resource, fn, settle=(), **kwargs):
    """fn(**kwargs); ClientError -> AwsCallError; codes in `settle` are retried briefly (IAM settling)."""
    for delay in SETTLE_DELAYS + (None,):
        try:
            return fn(**kwargs)
        except ClientError as exc:
            if delay is not None and error_code(exc) in settle:
                _sleep(delay)
                continue
            raise AwsCallError.from_client_error(exc, operation, resource)
    return None  # pragma: no cover - the loop always returns or raises


def paginate(iam, method, key, operation, resource, settle=(), **kwargs):
    def run():
        items = []
        for page in iam.get_paginator(method).paginate(**kwargs):
            items.extend(page.get(key, []))
        return items
    return call(operation, resource, run, settle)


# ---- observe -------------------------------------------------------------------------------------

def get_role(iam, name, settle=()):
    """The GetRole `Role` structure, or None when the role does not exist."""
    try:
        return call("GetRole", name, iam.get_role, settle=settle, RoleName=name)["Role"]
    except AwsCallError as exc:
        if exc.code == "NoSuchEntity":
            return None
        raise


def attached_policies(iam, name, settle=()):
    items = paginate(iam, "list_attached_role_policies", "AttachedPolicies", "ListAttachedRolePolicies", name,
                     settle, RoleName=name)
    return sorted(p["PolicyArn"] for p in items)


def inline_policies(iam, name, settle=()):
    names = paginate(iam, "list_role_policies", "PolicyNames", "ListRolePolicies", name, settle, RoleName=name)
    out = {}
    for policy_name in names:
        resp = call("GetRolePolicy", "%s/%s" % (name, policy_name), iam.get_role_policy, settle=settle,
                    RoleName=name, PolicyName=policy_name)
        # boto3 decodes the URL-encoded JSON to a dict; parse_policy copes with text too.
        out[policy_name] = _read_document(resp["PolicyDocument"], "inline policy %s" % policy_name)
    return out


def role_tags(iam, name, settle=()):
    """Tags from ListRoleTags (ListRoles returns none, so never read tags from it)."""
    return tags_from_boto3(paginate(iam, "list_role_tags", "Tags", "ListRoleTags", name, settle, RoleName=name))


def role_instance_profiles(iam, name, settle=()):
    items = paginate(iam, "list_instance_profiles_for_role", "InstanceProfiles", "ListInstanceProfilesForRole",
                     name, settle, RoleName=name)
    return sorted(({"instance_profile_name": p["InstanceProfileName"], "arn": p["Arn"],
                    "instance_profile_id": p.get("InstanceProfileId")} for p in items),
                  key=lambda p: p["instance_profile_name"])


def _read_document(value, what):
    """A document IAM returned: parsed when it parses; as stored when it does not (report, never crash)."""
    try:
        return parse_policy(value, what)
    except PolicyError:
        return value


def _iso(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def role_from_boto3(role, managed, inline, tags, profiles):
    trust = role.get("AssumeRolePolicyDocument")
    return {
        "arn": role["Arn"],
        "role_name": role["RoleName"],
        "role_id": role.get("RoleId"),
        "path": role.get("Path", "/"),
        "description": role.get("Description"),
        "max_session_duration": role.get("MaxSessionDuration"),
        "assume_role_policy_document": _read_document(trust, "AssumeRolePolicyDocument") if trust else None,
        "permissions_boundary": (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
        "managed_policies": managed,
        "inline_policies": inline,
        "tags": tags,
        "instance_profiles": profiles,
        "create_date": _iso(role.get("CreateDate")),
    }


def observe_role(iam, name, settle=()):
    """Everything about one role (the `role` return shape), or None when it does not exist."""
    role = get_role(iam, name, settle)
    if role is None:
        return None
    return role_from_boto3(role, attached_policies(iam, name, settle), inline_policies(iam, name, settle),
                           role_tags(iam, name, settle), role_instance_profiles(iam, name, settle))


def list_role_names(iam, path_prefix="/"):
    items = paginate(iam, "list_roles", "Roles", "ListRoles", path_prefix, PathPrefix=path_prefix)
    return sorted(r["RoleName"] for r in items)


# ---- managed policy names -> ARNs -----------------------------------------------------------------

def policy_arn_candidates(value, partition, account_id):
    """`Name` or `path/Name` -> the AWS-managed and the customer-managed ARN it may mean."""
    value = value.strip("/")
    return ["arn:%s:iam::aws:policy/%s" % (partition, value),
            "arn:%s:iam::%s:policy/%s" % (partition, account_id, value)]


def _policy_exists(iam, arn):
    try:
        call("GetPolicy", arn, iam.get_policy, PolicyArn=arn)
        return True
    except AwsCallError as exc:
        if exc.code == "NoSuchEntity":
            return False
        raise


def resolve_policy_arns(iam, values, partition, account_id, assume_missing=False):
    """ARNs pass through; names are looked up with GetPolicy on the two ARNs they can mean (never by listing
    every policy in the account). Returns (arns, errors, warnings).

    assume_missing=True (check mode): a name found nowhere is taken to be a customer-managed policy an
    earlier task would create, so a --check run of a whole playbook still predicts; it is reported as a
    warning instead of an error."""
    arns, errors, warnings = [], [], []
    for value in values:
        if value.startswith("arn:"):
            arns.append(value)
            continue
        found = [arn for arn in policy_arn_candidates(value, partition, account_id) if _policy_exists(iam, arn)]
        if len(found) == 1:
            arns.append(found[0])
        elif not found and assume_missing:
            arns.append(policy_arn_candidates(value, partition, account_id)[1])
            warnings.append("managed_policies: no policy named %r exists yet; check mode assumes %s will exist"
                            % (value, arns[-1]))
        elif not found:
            errors.append("managed_policies: no managed policy named %r: neither %s exists; give its ARN or create it "
                          "first" % (value, " nor ".join(policy_arn_candidates(value, partition, account_id))))
        else:
            errors.append("managed_policies: %r is ambiguous: both %s exist; give the ARN" % (value, " and ".join(found)))
    return sorted(set(arns)), errors, warnings


_OPERATIONS = {
    "create_role": "CreateRole",
    "update_assume_role_policy": "UpdateAssumeRolePolicy",
    "update_role": "UpdateRole",
    "put_role_permissions_boundary": "PutRolePermissionsBoundary",
    "delete_role_permissions_boundary": "DeleteRolePermissionsBoundary",
    "attach_role_policy": "AttachRolePolicy",
    "detach_role_policy": "DetachRolePolicy",
    "put_role_policy": "PutRolePolicy",
    "delete_role_policy": "DeleteRolePolicy",
    "tag_role": "TagRole",
    "untag_role": "UntagRole",
    "remove_role_from_instance_profile": "RemoveRoleFromInstanceProfile",
    "delete_role": "DeleteRole",
}


# Removing something that is already gone is what we wanted (another run may have raced us).
_GONE_IS_FINE = ("detach_role_policy", "delete_role_policy", "remove_role_from_instance_profile")


def apply_role_plan(iam, plan):
    """Make the calls of a plan in order. Right after CreateRole IAM may still answer NoSuchEntity, and
    DeleteRole may meet DeleteConflict while detachments settle: both are retried briefly."""
    created = False
    for change in plan:
        settle = {"ConcurrentModification"}
        if created:
            settle.add("NoSuchEntity")
        if change.action == "delete_role":
            settle.add("DeleteConflict")
        if change.action in _GONE_IS_FINE:
            settle.discard("NoSuchEntity")
        try:
            call(_OPERATIONS[change.action], change.target, getattr(iam, change.action), settle=settle,
                 **change.params)
        except AwsCallError as exc:
            if exc.code == "NoSuchEntity" and change.action in _GONE_IS_FINE:
                continue
            raise
        created = created or change.action == "create_role"
    return created


# ---- wait ----------------------------------------------------------------------------------------------

def wait_role_ready(iam, name, consecutive=3, timeout=120):
    """botocore's role_exists waiter, then `consecutive` successful GetRole reads in a row (a read that fails
    starts the count again), all within `timeout` seconds. Raises AwsCallError on timeout."""
    deadline = time.monotonic() + timeout
    try:
        iam.get_waiter("role_exists").wait(RoleName=name, WaiterConfig={"Delay": 1, "MaxAttempts": max(1, int(timeout))})
    except WaiterError as exc:
        raise AwsCallError("wait for role", "WaiterTimeout", "role %s was not readable within %ss: %s"
                           % (name, timeout, exc), name, "raise wait_timeout or check the role in IAM")
    streak = 1  # the waiter's last read succeeded
    while streak < consecutive:
        if time.monotonic() > deadline:
            raise AwsCallError("wait for role", "WaiterTimeout", "role %s was not read %d times in a row within %ss"
                               % (name, consecutive, timeout), name, "raise wait_timeout")
        _sleep(READY_DELAY)
        try:
            iam.get_role(RoleName=name)
            streak += 1
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                raise AwsCallError.from_client_error(exc, "GetRole", name)
            streak = 0
    return True


