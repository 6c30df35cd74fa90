# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IAM instance profiles: observe, plan (pure), apply, wait until usable, associations check.

An instance profile holds at most one role. Swapping the role is therefore remove + add; we add the
new role immediately after removing the old one (adding first fails with LimitExceeded) and report
both steps, so the window without a role is one API round trip.
"""

from __future__ import annotations

import concurrent.futures
import time

try:
    from botocore.exceptions import ClientError, WaiterError
except ImportError:  # pragma: no cover - the module reports missing boto3 through AwsContext
    ClientError = WaiterError = Exception

from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError, error_code
from ansible_collections.keyless.aws.plugins.module_utils.aws.plan import Plan
from ansible_collections.keyless.aws.plugins.module_utils.aws.tags import (
    apply_tags, diff_tags, plan_tag_changes, tags_from_boto3, tags_to_boto3,
)

# An association in one of these states still hands the profile's credentials to the instance.
ACTIVE_ASSOCIATION_STATES = ("associating", "associated")
# Still settling after a disassociate call; deleting the profile under it is what we wait out.
SETTLING_ASSOCIATION_STATES = ACTIVE_ASSOCIATION_STATES + ("disassociating",)
# How many instance ids an error message lists before it says "and N more".
MAX_LISTED = 20
# Concurrent GetInstanceProfile reads when listing (IAM throttles well above this).
MAX_PARALLEL_READS = 8


class ProfileError(Exception):
    """The desired state cannot be reached as asked; the message says why and what to do."""


def profile_arn(partition, account_id, path, name):
    return "arn:%s:iam::%s:instance-profile%s%s" % (partition, account_id, path or "/", name)


def role_arn(partition, account_id, path, name):
    return "arn:%s:iam::%s:role%s%s" % (partition, account_id, path or "/", name)


def role_name_of(value):
    """A role given by name or ARN -> its name (the last path segment of the ARN)."""
    if value and value.startswith("arn:"):
        return value.split(":", 5)[-1].rsplit("/", 1)[-1]
    return value


def _date(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def profile_from_boto3(raw):
    """GetInstanceProfile/ListInstanceProfiles item -> the object this collection returns."""
    roles = raw.get("Roles") or []
    return {
        "arn": raw["Arn"],
        "instance_profile_name": raw["InstanceProfileName"],
        "instance_profile_id": raw.get("InstanceProfileId"),
        "path": raw.get("Path", "/"),
        "roles": [r["RoleName"] for r in roles],
        "role_arn": roles[0]["Arn"] if roles else None,
        "tags": tags_from_boto3(raw.get("Tags") or []),
        "create_date": _date(raw.get("CreateDate")),
    }


# ---------------------------------------------------------------------------------------------- observe

def observe_profile(iam, name):
    """The profile as returned by this collection, or None when it does not exist.

    GetInstanceProfile returns the profile's tags as well, complete (IAM allows 50 per resource), so one
    call serves; ListInstanceProfileTags would add a call per profile (and moto lacks it).
    """
    try:
        raw = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise AwsCallError.from_client_error(exc, "GetInstanceProfile", name)
    return profile_from_boto3(raw)


def list_profiles(iam, path_prefix=None):
    """Every profile under path_prefix, tags included (ListInstanceProfiles omits them on AWS)."""
    kwargs = {"PathPrefix": path_prefix} if path_prefix else {}
    names = []
    try:
        for page in iam.get_paginator("list_instance_profiles").paginate(**kwargs):
            # Filtered here as well: some endpoints (moto) ignore PathPrefix.
            names.extend(p["InstanceProfileName"] for p in page["InstanceProfiles"]
                         if p.get("Path", "/").startswith(path_prefix or "/"))
    except ClientError as exc:
        raise AwsCallError.from_client_error(exc, "ListInstanceProfiles", path_prefix or "/")
    # One GetInstanceProfile per profile (for its tags), a few at a time: boto3 clients are thread-safe.
    workers = max(1, min(MAX_PARALLEL_READS, len(names)))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        profiles = list(pool.map(lambda name: observe_profile(iam, name), names))
    return [p for p in profiles if p is not None]  # None: deleted between the list and the read


def observe_role(iam, name, attempts=1, sleep=None):
    """{name, arn} of a role, or None when IAM does not know it after `attempts` reads.

    More than one attempt covers a role created a moment ago (IAM answers NoSuchEntity until it has
    propagated); the reads back off 1, 2, 4... seconds.
    """
    sleep = sleep or time.sleep
    for attempt in range(attempts):
        try:
            raw = iam.get_role(RoleName=name)["Role"]
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                raise AwsCallError.from_client_error(exc, "GetRole", name)
            if attempt < attempts - 1:
                sleep(min(2 ** attempt, 8))
            continue
        return {"name": raw["RoleName"], "arn": raw["Arn"]}
    return None


def active_associations(ec2, arn):
    """Associations of instances (in the ec2 client's region) with this profile that still hand it out.

    DescribeIamInstanceProfileAssociations has no filter by profile, so we page through all of them and
    keep the ones whose profile ARN matches.
    """
    return _associations(ec2, arn, ACTIVE_ASSOCIATION_STATES)


def _associations(ec2, arn, states):
    found = []
    try:
        for page in ec2.get_paginator("describe_iam_instance_profile_associations").paginate():
            for assoc in page.get("IamInstanceProfileAssociations", []):
                if assoc.get("IamInstanceProfile", {}).get("Arn") == arn and assoc.get("State") in states:
                    found.append({"association_id": assoc["AssociationId"], "instance_id": assoc["InstanceId"],
                                  "state": assoc["State"]})
    except ClientError as exc:
        raise AwsCallError.from_client_error(exc, "DescribeIamInstanceProfileAssociations", arn)
    return sorted(found, key=lambda a: a["instance_id"])


# ---------------------------------------------------------------------------------------------- plan

def plan_present(desired, current, purge_tags=True):
    """Changes that make the profile look like `desired`; raises ProfileError when it cannot.

    desired: {name, path (None: not managed), role (None: not managed, "": no role, else a name),
              tags (None: not managed)}
    current: the observed profile or None.
    """
    plan = Plan()
    name = desired["name"]
    role = desired.get("role")
    tags = desired.get("tags")
    if current is None:
        params = {"InstanceProfileName": name, "Path": desired.get("path") or "/"}
        initial_tags = diff_tags({}, tags, False)[0]
        if initial_tags:
            params["Tags"] = tags_to_boto3(initial_tags)
        plan.add("create_instance_profile", name, params, before=None,
                 after={"path": params["Path"], "tags": initial_tags})
        if role:
            plan.add("add_role_to_instance_profile", name, {"InstanceProfileName": name, "RoleName": role},
                     before=None, after=role)
        return plan

    if desired.get("path") and desired["path"] != current["path"]:
        raise ProfileError(
            "path=%r: instance profile %r exists with path %r and IAM cannot change the path of an instance "
            "profile; remove it (state=absent) and create it again, or set path to %r"
            % (desired["path"], name, current["path"], current["path"]))

    if role is not None:
        _plan_role(plan, name, role, current["roles"])
    return plan_tag_changes(plan, name, {"InstanceProfileName": name}, current["tags"], tags, purge_tags,
                            "tag_instance_profile", "untag_instance_profile")


def _plan_role(plan, name, role, current_roles):
    """Exactly `role` in the profile ("" means none); a swap is remove then add, in that order."""
    wanted = [role] if role else []
    if current_roles == wanted:
        return
    for old in current_roles:
        if old != role:
            plan.add("remove_role_from_instance_profile", name, {"InstanceProfileName": name, "RoleName": old},
                     before=old, after=None)
    if role and role not in current_roles:
        plan.add("add_role_to_instance_profile", name, {"InstanceProfileName": name, "RoleName": role},
                 before=current_roles[0] if current_roles else None, after=role)


def plan_absent(current, associations, force=False):
    """Changes that delete the profile; refuses while instances still use it unless force.

    force disassociates those instances first (they lose the profile's credentials), then deletes: the
    profile is never deleted from under an instance that still references it.
    """
    plan = Plan()
    if current is None:
        return plan
    name = current["instance_profile_name"]
    if associations and not force:
        raise ProfileError(
            "instance profile %r is still associated with %d instance(s): %s. Deleting it would leave them "
            "without credentials; disassociate them first (keyless.aws.ec2_profile_association state=absent) "
            "or set force: true to disassociate them and delete the profile"
            % (name, len(associations), _instance_list(associations)))
    for assoc in associations:
        plan.add("disassociate_iam_instance_profile", assoc["instance_id"],
                 {"AssociationId": assoc["association_id"]}, before=current["arn"], after=None)
    for role in current["roles"]:
        plan.add("remove_role_from_instance_profile", name, {"InstanceProfileName": name, "RoleName": role},
                 before=role, after=None)
    plan.add("delete_instance_profile", name, {"InstanceProfileName": name}, before=current["arn"], after=None)
    return plan


def _instance_list(associations):
    ids = [a["instance_id"] for a in associations]
    text = ", ".join(ids[:MAX_LISTED])
    if len(ids) > MAX_LISTED:
        text += " and %d more" % (len(ids) - MAX_LISTED)
    return text


def predict(desired, current, partition, account_id, role_arn_value=None):
    """The profile as it will be after the plan: what check mode returns."""
    name = desired["name"]
    if current is None:
        path = desired.get("path") or "/"
        obj = {"arn": profile_arn(partition, account_id, path, name), "instance_profile_name": name,
               "instance_profile_id": None, "path": path, "roles": [], "role_arn": None, "tags": {},
               "create_date": None}
    else:
        obj = dict(current, roles=list(current["roles"]), tags=dict(current["tags"]))
    role = desired.get("role")
    if role is not None and obj["roles"] != ([role] if role else []):
        obj["roles"] = [role] if role else []
        obj["role_arn"] = role_arn_value if role else None
    if desired.get("tags") is not None:
        to_set, to_remove = diff_tags(obj["tags"], desired["tags"], desired.get("purge_tags", True))
        obj["tags"] = apply_tags(obj["tags"], to_set, to_remove)
    return obj


def declared(obj, desired):
    """The part of a profile the user declared, for --diff: name, path, role, tags."""
    if obj is None:
        return {}
    out = {"instance_profile_name": obj["instance_profile_name"], "path": obj["path"]}
    if desired.get("role") is not None:
        out["role"] = obj["roles"][0] if obj["roles"] else ""
    if desired.get("tags") is not None:
        out["tags"] = obj["tags"]
    return out


# ---------------------------------------------------------------------------------------------- apply

# IAM answers these for a role created seconds ago, or while another change to the profile settles.
_ADD_ROLE_RETRY_CODES = ("NoSuchEntity", "ConcurrentModification")


def apply(iam, ec2, plan, sleep=time.sleep, add_role_attempts=5):
    """Run the plan in order; returns the actions done. Raises AwsCallError naming what was done already."""
    done = []
    for change in plan:
        try:
            if change.action == "disassociate_iam_instance_profile":
                ec2.disassociate_iam_instance_profile(**change.params)
            elif change.action == "add_role_to_instance_profile":
                _add_role(iam, change.params, sleep, add_role_attempts)
            else:
                getattr(iam, change.action)(**change.params)
        except ClientError as exc:
            raise _apply_error(exc, change, done)
        done.append(change.action)
    return done


def _add_role(iam, params, sleep, attempts):
    """AddRoleToInstanceProfile, retrying IAM's propagation answers for a just-created role."""
    for attempt in range(attempts):
        try:
            return iam.add_role_to_instance_profile(**params)
        except ClientError as exc:
            if error_code(exc) not in _ADD_ROLE_RETRY_CODES or attempt == attempts - 1:
                raise
            sleep(min(2 ** attempt, 8))


def _apply_error(exc, change, done):
    api = "".join(part.capitalize() for part in change.action.split("_"))
    err = AwsCallError.from_client_error(exc, api, change.target)
    if change.action == "add_role_to_instance_profile" and "remove_role_from_instance_profile" in done:
        err.hint = ("the old role was already removed, so the profile holds no role now; rerun the task to add "
                    "%r (%s)" % (change.params["RoleName"], err.hint or "see the error above"))
    elif done:
        err.hint = "%s (already done: %s)" % (err.hint or "fix the cause and rerun", ", ".join(done))
    return err


# ---------------------------------------------------------------------------------------------- wait

def wait_profile_ready(iam, name, consecutive=3, timeout=120, role=None, delay=1.0, sleep=time.sleep,
                       clock=time.monotonic):
    """Wait until IAM shows the profile (with `role`, if given) on `consecutive` reads in a row.

    botocore's instance_profile_exists waiter first, then consecutive reads: IAM is eventually
    consistent, and EC2 refuses a just-created profile ("Invalid IAM Instance Profile name") until it
    has propagated. Returns the last profile read; raises AwsCallError on timeout.
    """
    deadline = clock() + timeout
    try:
        iam.get_waiter("instance_profile_exists").wait(
            InstanceProfileName=name,
            WaiterConfig={"Delay": max(1, int(delay)), "MaxAttempts": max(1, int(timeout / max(delay, 1)))})
    except WaiterError as exc:
        raise AwsCallError("GetInstanceProfile", "WaiterTimeout",
                           "instance profile %s did not appear within %ss (%s)" % (name, timeout, exc), name,
                           "raise wait_timeout, or check that nothing deletes the profile")
    seen = 0
    last = None
    while True:
        last = observe_profile(iam, name)
        if last is not None and (role is None or last["roles"] == ([role] if role else [])):
            seen += 1
            if seen >= consecutive:
                return last
        else:
            seen = 0
        if clock() + delay > deadline:
            raise AwsCallError(
                "GetInstanceProfile", "WaiterTimeout",
                "instance profile %s was not readable%s %d times in a row within %ss (last read: %s)"
                % (name, " with role %r" % role if role else "", consecutive, timeout,
                   last["roles"] if last else "not found"), name, "raise wait_timeout")
        sleep(delay)


def wait_disassociated(ec2, arn, association_ids, timeout=120, delay=2.0, sleep=time.sleep, clock=time.monotonic):
    """Wait until none of these associations is associating, associated or disassociating."""
    deadline = clock() + timeout
    wanted = set(association_ids)
    while True:
        left = [a for a in _associations(ec2, arn, SETTLING_ASSOCIATION_STATES) if a["association_id"] in wanted]
        if not left:
            return
        if clock() + delay > deadline:
            raise AwsCallError("DescribeIamInstanceProfileAssociations", "WaiterTimeout",
                               "instances still being disassociated after %ss: %s" % (timeout, _instance_list(left)),
                               arn, "raise wait_timeout and rerun")
        sleep(delay)
