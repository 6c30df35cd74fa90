# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IAM instance profiles: observe, plan (pure), apply, wait until usable, associations check.

An instance profile holds at most one role. Swapping the role is therefore remove + add; we add the
new role immediately after removing the old one (adding first fails with LimitExceeded) and report
both steps, so the window without a role is one API round trip.

Private to the collection: no stable API.
"""

from __future__ import annotations

from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import iam_arn, parse_arn
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError, PlanError
from ansible_collections.keyless.aws.plugins.module_utils.aws.parallel import parallel_map
from ansible_collections.keyless.aws.plugins.module_utils.aws.plan import Plan
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import (
    IAM_NEW_ENTITY, IAM_SETTLING, NOT_FOUND, call, paginate, poll, read_until_arn, wait_consecutive,
)
from ansible_collections.keyless.aws.plugins.module_utils.aws.tags import (
    apply_tags, diff_tags, plan_tag_changes, tags_from_boto3, tags_to_boto3,
)
from ansible_collections.keyless.aws.plugins.module_utils.iam.roles import get_role

# An association in one of these states still hands the profile's credentials to the instance.
ACTIVE_ASSOCIATION_STATES = ("associating", "associated")
# Still settling after a disassociate call; deleting the profile under it is what we wait out.
SETTLING_ASSOCIATION_STATES = ACTIVE_ASSOCIATION_STATES + ("disassociating",)
# How many instance ids an error message lists before it says "and N more".
MAX_LISTED = 20
# Concurrent GetInstanceProfile reads when listing (IAM throttles well above this).
MAX_PARALLEL_READS = 8


class ProfileError(PlanError):
    """The desired state cannot be reached as asked; the message says why and what to do."""


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

def observe_profile(iam, name, retry=None):
    """The profile as returned by this collection, or None when it does not exist.

    GetInstanceProfile returns the profile's tags as well, complete (IAM allows 50 per resource), so one
    call serves; ListInstanceProfileTags would add a call per profile (and moto lacks it). `retry`
    (IAM_NEW_ENTITY) reads a profile known to exist through IAM's propagation delay.
    """
    def read():
        answer = call(iam, "GetInstanceProfile", {"InstanceProfileName": name}, retry, name, missing=NOT_FOUND)
        return answer["InstanceProfile"] if answer is not None else None
    raw = read_until_arn(read, what="instance profile %s" % name, operation="GetInstanceProfile")
    return profile_from_boto3(raw) if raw is not None else None


def list_profiles(iam, path_prefix=None):
    """Every profile under path_prefix, tags included (ListInstanceProfiles omits them on AWS)."""
    params = {"PathPrefix": path_prefix} if path_prefix else {}
    listed = paginate(iam, "ListInstanceProfiles", "InstanceProfiles", params, resource=path_prefix or "/")
    names = [p["InstanceProfileName"] for p in listed]
    # One GetInstanceProfile per profile (for its tags), a few at a time: boto3 clients are thread-safe.
    profiles = parallel_map(lambda name: observe_profile(iam, name), names, MAX_PARALLEL_READS)
    return [p for p in profiles if p is not None]  # None: deleted between the list and the read


def role_ref(iam, name, retry=None):
    """{name, arn} of a role, or None when IAM does not know it. `retry` (IAM_NEW_ENTITY) covers a role
    created a moment ago, which IAM answers NoSuchEntity for until it has propagated."""
    raw = get_role(iam, name, retry)
    return {"name": raw["RoleName"], "arn": raw["Arn"]} if raw is not None else None


def profile_roles(iam, names):
    """{name: {found, role_name, role_arn}} with one GetInstanceProfile per distinct profile name (for audits:
    EC2 reports an instance's profile by ARN only, its role is IAM's to tell)."""
    out = {}
    for name in sorted(set(names)):
        profile = observe_profile(iam, name)
        roles = (profile or {}).get("roles") or []
        out[name] = {"found": profile is not None, "role_name": roles[0] if roles else None,
                     "role_arn": (profile or {}).get("role_arn")}
    return out


def resolve_instance_profile(iam, value, check_mode=False, predict_arn=None, require_role=True):
    """The instance profile an option names (a name or an ARN), with one GetInstanceProfile:
    {name, arn, roles, exists, given_as ("name" | "arn")}.

    A profile that does not exist, whose ARN is not the one given, or (require_role) that holds no role
    raises AwsCallError / PlanError; in check mode, a missing profile may be one an earlier task of the same
    --check run would create: it is taken as given (exists False; arn the ARN given, else predict_arn(name)
    when given, else None)."""
    parsed = parse_arn(value)
    name = parsed["name"] if parsed else value
    given_as = "arn" if parsed else "name"
    profile = observe_profile(iam, name)
    if profile is None:
        if check_mode:
            arn = value if parsed else (predict_arn(name) if predict_arn else None)
            return {"name": name, "arn": arn, "roles": [], "exists": False, "given_as": given_as}
        raise AwsCallError("GetInstanceProfile", "NoSuchEntity", "instance profile %s does not exist" % name, name,
                           "create it first (keyless.aws.iam_instance_profile), or check the name and account")
    if parsed and profile["arn"] != value:
        raise PlanError("instance_profile=%s names profile %s, but that profile's ARN is %s (another account or "
                        "path?): give the name, or the ARN exactly as IAM reports it" % (value, name, profile["arn"]))
    if require_role and not profile["roles"] and not check_mode:
        raise PlanError("instance profile %s holds no role: instances would get no credentials; add a role to it "
                        "first (keyless.aws.iam_instance_profile role=...)" % name)
    return {"name": profile["instance_profile_name"], "arn": profile["arn"], "roles": profile["roles"],
            "exists": True, "given_as": given_as}


def active_associations(ec2, arn):
    """Associations of instances (in the ec2 client's region) with this profile that still hand it out.

    DescribeIamInstanceProfileAssociations has no filter by profile, so we page through all of them and
    keep the ones whose profile ARN matches.
    """
    return _associations(ec2, arn, ACTIVE_ASSOCIATION_STATES)


def _associations(ec2, arn, states):
    found = [{"association_id": assoc["AssociationId"], "instance_id": assoc["InstanceId"], "state": assoc["State"]}
             for assoc in paginate(ec2, "DescribeIamInstanceProfileAssociations", "IamInstanceProfileAssociations",
                                   resource=arn)
             if (assoc.get("IamInstanceProfile") or {}).get("Arn") == arn and assoc.get("State") in states]
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
        plan.add("CreateInstanceProfile", name, params, before=None,
                 after={"path": params["Path"], "tags": initial_tags}, retry=IAM_SETTLING)
        if role:
            # the role may be a moment old, and the profile is: IAM may answer NoSuchEntity for either
            plan.add("AddRoleToInstanceProfile", name, {"InstanceProfileName": name, "RoleName": role},
                     before=None, after=role, retry=IAM_NEW_ENTITY)
        return plan

    if desired.get("path") and desired["path"] != current["path"]:
        raise ProfileError(
            "path=%r: instance profile %r exists with path %r and IAM cannot change the path of an instance "
            "profile; remove it (state=absent) and create it again, or set path to %r"
            % (desired["path"], name, current["path"], current["path"]))

    if role is not None:
        _plan_role(plan, name, role, current["roles"])
    return plan_tag_changes(plan, name, {"InstanceProfileName": name}, current["tags"], tags, purge_tags,
                            "TagInstanceProfile", "UntagInstanceProfile")


def _plan_role(plan, name, role, current_roles):
    """Exactly `role` in the profile ("" means none); a swap is remove then add, in that order."""
    wanted = [role] if role else []
    if current_roles == wanted:
        return
    for old in current_roles:
        if old != role:
            plan.add("RemoveRoleFromInstanceProfile", name, {"InstanceProfileName": name, "RoleName": old},
                     before=old, after=None, retry=IAM_SETTLING, gone_ok=True)
    if role and role not in current_roles:
        plan.add("AddRoleToInstanceProfile", name, {"InstanceProfileName": name, "RoleName": role},
                 before=current_roles[0] if current_roles else None, after=role, retry=IAM_NEW_ENTITY)


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
        plan.add("DisassociateIamInstanceProfile", assoc["instance_id"],
                 {"AssociationId": assoc["association_id"]}, before=current["arn"], after=None, service="ec2",
                 gone_ok=True)
    for role in current["roles"]:
        plan.add("RemoveRoleFromInstanceProfile", name, {"InstanceProfileName": name, "RoleName": role},
                 before=role, after=None, retry=IAM_SETTLING, gone_ok=True)
    plan.add("DeleteInstanceProfile", name, {"InstanceProfileName": name}, before=current["arn"], after=None,
             retry=IAM_SETTLING)
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
        obj = {"arn": iam_arn(partition, account_id, "instance-profile", path, name), "instance_profile_name": name,
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


# ---------------------------------------------------------------------------------------------- wait

def wait_profile_ready(iam, name, consecutive=3, timeout=120, role=None, delay=1.0):
    """Wait until IAM shows the profile (with `role`, if given) on `consecutive` reads in a row: IAM is
    eventually consistent. Returns the last profile read; raises AwsCallError on timeout.

    EC2 may still refuse a just-created profile ("Invalid IAM Instance Profile name") after this: the
    fleet modules retry that answer (retries.PROFILE_PROPAGATION) rather than wait here longer."""
    wanted = [role] if role else []

    def ready(profile):
        return profile is not None and (role is None or profile["roles"] == wanted)
    return wait_consecutive(lambda: observe_profile(iam, name), ready, consecutive, timeout, delay,
                            "instance profile %s%s" % (name, " with role %s" % role if role else ""),
                            "GetInstanceProfile")


def wait_disassociated(ec2, arn, association_ids, timeout=120, delay=2.0):
    """Wait until none of these associations is associating, associated or disassociating."""
    wanted = set(association_ids)

    def still_settling(pending):
        return {a["association_id"] for a in _associations(ec2, arn, SETTLING_ASSOCIATION_STATES)} & pending
    left = poll(wanted, still_settling, timeout, first_delay=delay)
    if left:
        raise AwsCallError("DescribeIamInstanceProfileAssociations", "WaiterTimeout",
                           "associations still being disassociated after %ss: %s" % (timeout, ", ".join(sorted(left))),
                           arn, "raise wait_timeout and rerun")
