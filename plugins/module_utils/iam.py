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

import json
import re
import time

try:
    from botocore.exceptions import ClientError, WaiterError
except ImportError:  # pragma: no cover - the module reports missing boto3 through AwsContext
    ClientError = WaiterError = Exception

from ansible_collections.keyless.aws.plugins.module_utils.arns import (
    validate_arn,
    validate_iam_name,
    validate_iam_path,
)
from ansible_collections.keyless.aws.plugins.module_utils.errors import AwsCallError, error_code
from ansible_collections.keyless.aws.plugins.module_utils.plan import Plan
from ansible_collections.keyless.aws.plugins.module_utils.policy import (
    PolicyError,
    is_admin_managed_policy,
    lint_policy,
    parse_policy,
    policies_equal,
    trust_policy_for_services,
)
from ansible_collections.keyless.aws.plugins.module_utils.tags import (
    apply_tags,
    diff_tags,
    tags_from_boto3,
    tags_to_boto3,
    validate_tags,
)

# IAM settles in seconds: retry briefly (about 15 s in all) on the codes that mean "not yet".
SETTLE_DELAYS = (1, 2, 4, 8)
READY_DELAY = 1.0  # seconds between the consecutive reads of wait_role_ready
DECLARABLE = ("path", "description", "max_session_duration", "assume_role_policy_document",
              "permissions_boundary", "managed_policies", "inline_policies", "tags")
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
        return plan_role_deletion(observed)
    if observed is None:
        return _plan_create(desired)
    return _plan_update(desired, observed)


def plan_role_deletion(observed):
    """The safe order: out of every instance profile, detach managed, delete inline, then the role."""
    plan = Plan()
    if observed is None:
        return plan
    name = observed["role_name"]
    for profile in observed.get("instance_profiles") or []:
        plan.add("remove_role_from_instance_profile", profile["instance_profile_name"],
                 {"InstanceProfileName": profile["instance_profile_name"], "RoleName": name})
    for arn in observed.get("managed_policies") or []:
        plan.add("detach_role_policy", arn, {"RoleName": name, "PolicyArn": arn})
    for policy_name in sorted(observed.get("inline_policies") or {}):
        plan.add("delete_role_policy", policy_name, {"RoleName": name, "PolicyName": policy_name})
    plan.add("delete_role", name, {"RoleName": name}, before=name, after=None)
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
    plan = Plan().add("create_role", name, params, before=None, after=name)
    for arn in sorted(set(desired.get("managed_policies") or [])):
        plan.add("attach_role_policy", arn, {"RoleName": name, "PolicyArn": arn})
    for policy_name, doc in sorted((desired.get("inline_policies") or {}).items()):
        plan.add("put_role_policy", policy_name,
                 {"RoleName": name, "PolicyName": policy_name, "PolicyDocument": json.dumps(doc, sort_keys=True)})
    return plan


def _plan_update(desired, observed):
    name = observed["role_name"]
    partition = _partition_of(observed.get("arn"))
    plan = Plan()
    trust = desired.get("assume_role_policy_document")
    if trust is not None and not policies_equal(trust, observed.get("assume_role_policy_document"), partition):
        plan.add("update_assume_role_policy", name,
                 {"RoleName": name, "PolicyDocument": json.dumps(trust, sort_keys=True)},
                 before=observed.get("assume_role_policy_document"), after=trust)
    _plan_update_role(plan, desired, observed)
    _plan_boundary(plan, desired, observed)
    _plan_managed(plan, desired, observed)
    _plan_inline(plan, desired, observed, partition)
    to_set, to_remove = diff_tags(observed.get("tags"), desired.get("tags"), desired.get("purge_tags", True))
    if to_remove:
        plan.add("untag_role", name, {"RoleName": name, "TagKeys": to_remove}, before=to_remove, after=None)
    if to_set:
        plan.add("tag_role", name, {"RoleName": name, "Tags": tags_to_boto3(to_set)}, after=to_set)
    return plan


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
    plan.add("update_role", observed["role_name"], params,
             before={"description": observed.get("description"), "max_session_duration": observed.get("max_session_duration")},
             after={"description": new_description, "max_session_duration": new_duration})


def _plan_boundary(plan, desired, observed):
    wanted = desired.get("permissions_boundary")
    current = observed.get("permissions_boundary")
    name = observed["role_name"]
    if wanted is None or (wanted or None) == current:
        return
    if wanted == "":
        plan.add("delete_role_permissions_boundary", name, {"RoleName": name}, before=current, after=None)
    else:
        plan.add("put_role_permissions_boundary", name, {"RoleName": name, "PermissionsBoundary": wanted},
                 before=current, after=wanted)


def _plan_managed(plan, desired, observed):
    wanted = desired.get("managed_policies")
    if wanted is None:
        return
    name = observed["role_name"]
    current = set(observed.get("managed_policies") or [])
    if desired.get("purge_managed_policies"):
        for arn in sorted(current - set(wanted)):
            plan.add("detach_role_policy", arn, {"RoleName": name, "PolicyArn": arn}, before=arn, after=None)
    for arn in sorted(set(wanted) - current):
        plan.add("attach_role_policy", arn, {"RoleName": name, "PolicyArn": arn}, before=None, after=arn)


def _plan_inline(plan, desired, observed, partition):
    wanted = desired.get("inline_policies")
    if wanted is None:
        return
    name = observed["role_name"]
    current = observed.get("inline_policies") or {}
    for policy_name, doc in sorted(wanted.items()):
        if not policies_equal(doc, current.get(policy_name), partition):
            plan.add("put_role_policy", policy_name,
                     {"RoleName": name, "PolicyName": policy_name, "PolicyDocument": json.dumps(doc, sort_keys=True)},
                     before=current.get(policy_name), after=doc)
    if desired.get("purge_inline_policies"):
        for policy_name in sorted(set(current) - set(wanted)):
            plan.add("delete_role_policy", policy_name, {"RoleName": name, "PolicyName": policy_name},
                     before=current[policy_name], after=None)


# ---- predicted object and diff (pure) ----------------------------------------------------------------

def role_arn(partition, account_id, path, name):
    return "arn:%s:iam::%s:role%s%s" % (partition, account_id, path or "/", name)


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


# ---- validation of iam_role's options (pure) -----------------------------------------------------------


_SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)*\.amazonaws\.com(\.cn)?$")
_POLICY_NAME = re.compile(r"^(/?[\x21-\x7e]+/)?[\w+=,.@-]{1,128}$", re.ASCII)
_DESCRIPTION = re.compile(r"^[\t\n\r\x20-\x7e\xa1-\xff]*$")
DEFAULT_TRUSTED_SERVICES = ["ec2.amazonaws.com"]


def _validate_managed(values, allow_admin):
    errors = []
    for value in values or []:
        if not isinstance(value, str) or not value:
            errors.append("managed_policies item %r is empty: give a policy ARN or name" % (value,))
        elif value.startswith("arn:"):
            err = validate_arn(value, "managed_policies item", "iam", "policy")
            if err:
                errors.append(err)
        elif not _POLICY_NAME.match(value):
            errors.append("managed_policies item %r is neither a policy ARN nor a policy name (letters, digits and "
                          "+ = , . @ _ -, optionally after a path such as 'service-role/')" % value)
        if isinstance(value, str) and is_admin_managed_policy(value) and not allow_admin:
            errors.append("managed_policies item %r grants administrator-level access (%s): attach a least-privilege "
                          "policy instead, or set allow_admin: true" % (value, value.rsplit("/", 1)[-1]))
    return errors


def _validate_inline(policies, allow_admin):
    errors, docs = [], {}
    for name, value in (policies or {}).items():
        option = "inline_policies.%s" % name
        err = validate_iam_name(name, "inline_policies key", max_len=128)
        if err:
            errors.append(err)
        try:
            docs[name] = parse_policy(value, option)
        except PolicyError as exc:
            errors.append(str(exc))
            continue
        errors.extend("%s: %s" % (option, p) for p in lint_policy(docs[name], "permissions", allow_admin))
    return errors, docs


def _validate_trust(params, allow_admin):
    if params.get("assume_role_policy_document") is not None:
        try:
            doc = parse_policy(params["assume_role_policy_document"], "assume_role_policy_document")
        except PolicyError as exc:
            return [str(exc)], None
        return ["assume_role_policy_document: %s" % p for p in lint_policy(doc, "trust", allow_admin)], doc
    services = params.get("trusted_services")
    if services is None:
        return [], None
    errors = []
    if not services:
        errors.append("trusted_services is empty: name at least one service principal such as ec2.amazonaws.com")
    for service in services:
        if not _SERVICE_PRINCIPAL.match(service or ""):
            errors.append("trusted_services item %r is not a service principal: expected e.g. ec2.amazonaws.com"
                          % (service,))
    return errors, (trust_policy_for_services(services) if not errors else None)


def _validate_scalars(params):
    errors = [validate_iam_name(params.get("name"), "name", 64)]
    if params.get("path") is not None:
        errors.append(validate_iam_path(params["path"], "path"))
    description = params.get("description")
    if description is not None:
        if len(description) > 1000:
            errors.append("description is %d characters long: IAM allows at most 1000" % len(description))
        elif not _DESCRIPTION.match(description):
            errors.append("description %r contains characters IAM does not accept: use printable Latin-1 text"
                          % description)
    duration = params.get("max_session_duration")
    if duration is not None and not 3600 <= duration <= 43200:
        errors.append("max_session_duration=%r is out of range: use 3600 to 43200 seconds (1 to 12 hours)" % duration)
    boundary = params.get("permissions_boundary")
    if boundary:
        errors.append(validate_arn(boundary, "permissions_boundary", "iam", "policy"))
    timeout = params.get("wait_timeout")
    if timeout is not None and timeout < 1:
        errors.append("wait_timeout=%r must be at least 1 second" % timeout)
    return [e for e in errors if e]


def role_desired(params):
    """iam_role's params -> (desired dict for plan_role, validation errors). Pure: no AWS call."""
    allow_admin = bool(params.get("allow_admin"))
    errors = _validate_scalars(params)
    trust_errors, trust = _validate_trust(params, allow_admin)
    inline_errors, inline = _validate_inline(params.get("inline_policies"), allow_admin)
    errors += trust_errors + inline_errors + _validate_managed(params.get("managed_policies"), allow_admin)
    errors += validate_tags(params.get("tags"), "tags")
    desired = {
        "state": params.get("state") or "present",
        "name": params.get("name"),
        "path": params.get("path"),
        "description": params.get("description"),
        "max_session_duration": params.get("max_session_duration"),
        "assume_role_policy_document": trust,
        "permissions_boundary": params.get("permissions_boundary"),
        "managed_policies": params.get("managed_policies"),
        "purge_managed_policies": bool(params.get("purge_managed_policies")),
        "inline_policies": inline if params.get("inline_policies") is not None else None,
        "purge_inline_policies": bool(params.get("purge_inline_policies")),
        "tags": params.get("tags"),
        "purge_tags": params.get("purge_tags", True) is not False,
    }
    return desired, errors


def declared_keys(params):
    """The role fields the user declared (what diff before/after shows)."""
    keys = [k for k in DECLARABLE if params.get(k) is not None]
    if params.get("trusted_services") is not None and "assume_role_policy_document" not in keys:
        keys.append("assume_role_policy_document")
    return keys
