# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IAM roles: observe (reads only), resolve managed policy names, wait until readable (the plan is role_plan.py,
the options role_params.py; the calls are made by aws/plan.apply_plan).

The observed / predicted role is one plain dict (the module's `role` return value):
arn, role_name, role_id, path, description, max_session_duration, assume_role_policy_document,
permissions_boundary, managed_policies (ARNs), inline_policies (name -> document), tags,
instance_profiles, create_date.

AWS facts: AttachRolePolicy with a managed policy ARN that does not exist fails with NoSuchEntity, after
CreateRole has already made the role, so every ARN is read with GetPolicy first (resolve_policy_arns).
A role can attach only AWS-managed policies and its own account's; IAM refuses DeletePolicy while a policy
is attached, so an attached ARN exists.

Private to the collection: no stable API.
"""

from __future__ import annotations

from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import parse_arn
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import NOT_FOUND, call, paginate, read_until_arn, wait_consecutive
from ansible_collections.keyless.aws.plugins.module_utils.aws.tags import tags_from_boto3
from ansible_collections.keyless.aws.plugins.module_utils.iam.documents import PolicyError, parse_policy

READY_DELAY = 1.0  # seconds between the consecutive reads of wait_role_ready


# ---- observe -------------------------------------------------------------------------------------

def get_role(iam, name, retry=None):
    """The GetRole `Role` structure, or None when the role does not exist (its Arn an ARN: read_until_arn)."""
    def read():
        answer = call(iam, "GetRole", {"RoleName": name}, retry, name, missing=NOT_FOUND)
        return answer["Role"] if answer is not None else None
    return read_until_arn(read, what="role %s" % name, operation="GetRole")


def attached_policies(iam, name, retry=None):
    items = paginate(iam, "ListAttachedRolePolicies", "AttachedPolicies", {"RoleName": name}, retry, name)
    return sorted(p["PolicyArn"] for p in items)


def inline_policies(iam, name, retry=None):
    names = paginate(iam, "ListRolePolicies", "PolicyNames", {"RoleName": name}, retry, name)
    out = {}
    for policy_name in names:
        resp = call(iam, "GetRolePolicy", {"RoleName": name, "PolicyName": policy_name}, retry,
                    "%s/%s" % (name, policy_name))
        # boto3 decodes the URL-encoded JSON to a dict; parse_policy copes with text too.
        out[policy_name] = _read_document(resp["PolicyDocument"], "inline policy %s" % policy_name)
    return out


def role_tags(iam, name, retry=None):
    """Tags from ListRoleTags (ListRoles returns none, so never read tags from it)."""
    return tags_from_boto3(paginate(iam, "ListRoleTags", "Tags", {"RoleName": name}, retry, name))


def role_instance_profiles(iam, name, retry=None):
    items = paginate(iam, "ListInstanceProfilesForRole", "InstanceProfiles", {"RoleName": name}, retry, name)
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


def observe_role(iam, name, retry=None):
    """Everything about one role (the `role` return shape), or None when it does not exist. `retry`
    (e.g. IAM_NEW_ENTITY right after a change) covers reads that IAM answers before it has settled."""
    role = get_role(iam, name, retry)
    if role is None:
        return None
    return role_from_boto3(role, attached_policies(iam, name, retry), inline_policies(iam, name, retry),
                           role_tags(iam, name, retry), role_instance_profiles(iam, name, retry))


def list_role_names(iam, path_prefix="/"):
    items = paginate(iam, "ListRoles", "Roles", {"PathPrefix": path_prefix}, resource=path_prefix)
    return sorted(r["RoleName"] for r in items)


def managed_policy_document(iam, arn):
    """{type, name, arn, document} of a managed policy's default version, or None when it is gone: two reads
    (GetPolicy, GetPolicyVersion); managed_policies.observe_policy would also list versions and tags."""
    answer = call(iam, "GetPolicy", {"PolicyArn": arn}, resource=arn, missing=NOT_FOUND)
    policy = (answer or {}).get("Policy")
    version = policy and call(iam, "GetPolicyVersion", {"PolicyArn": arn, "VersionId": policy["DefaultVersionId"]},
                              resource=arn, missing=NOT_FOUND)
    if not version:
        return None
    version = version["PolicyVersion"]
    return {"type": "managed", "name": policy["PolicyName"], "arn": arn,
            "document": _read_document(version["Document"], "policy %s" % arn)}


def role_policy_documents(iam, name, read_managed=None, skip_managed=None):
    """(GetRole's Role or None, [policy]): the role's inline policies ({type: inline, name, document}) and the
    default version of each attached managed policy ({type: managed, name, arn, document}).

    read_managed(arn): how a managed policy is read (role_policies.PolicyDocuments caches it across roles);
    skip_managed(arn) true: the policy is listed with document None and not read (an admin policy judged by
    name). role_policies_of reads the same without the GetRole, for a caller that knows the role exists."""
    role = get_role(iam, name)
    if role is None:
        return None, []
    return role, role_policies_of(iam, name, read_managed, skip_managed)


def role_policies_of(iam, name, read_managed=None, skip_managed=None):
    """The policies of role_policy_documents, without the GetRole."""
    policies = [{"type": "inline", "name": policy_name, "document": doc}
                for policy_name, doc in sorted(inline_policies(iam, name).items())]
    for arn in attached_policies(iam, name):
        if skip_managed and skip_managed(arn):
            policies.append({"type": "managed", "name": arn.rsplit("/", 1)[-1], "arn": arn, "document": None})
            continue
        managed = (read_managed or (lambda a: managed_policy_document(iam, a)))(arn)
        if managed is not None:  # detached and deleted between the two reads
            policies.append(managed)
    return policies


# ---- managed policies: names -> ARNs, every ARN checked to exist (reads, before any change) ------------

def policy_arn_candidates(value, partition, account_id):
    """`Name` or `path/Name` -> the AWS-managed and the customer-managed ARN it may mean."""
    value = value.strip("/")
    return ["arn:%s:iam::aws:policy/%s" % (partition, value),
            "arn:%s:iam::%s:policy/%s" % (partition, account_id, value)]


def _policy_exists(iam, arn):
    return call(iam, "GetPolicy", {"PolicyArn": arn}, resource=arn, missing=NOT_FOUND) is not None


def check_policy_arn(iam, arn, option, partition, account_id, assume_missing=False):
    """(error, warning) for one managed policy ARN a role is to use, read with GetPolicy.

    A role can use only AWS-managed policies (account `aws`) and its own account's. An AWS-managed ARN that
    does not exist is always an error: no task can create it. A customer-managed one is an error too, except
    with assume_missing=True (check mode), where an earlier task of the play (iam_managed_policy) may only
    have predicted it: then it is a warning, and the real run refuses it before changing anything."""
    parsed = parse_arn(arn) or {}
    if parsed.get("partition") != partition:
        return ("%s %r is in partition %r, but this account is in %r: give the policy's ARN in %s"
                % (option, arn, parsed.get("partition"), partition, partition)), None
    if parsed.get("account_id") not in ("aws", account_id):
        return ("%s %r belongs to account %s: a role can use only AWS-managed policies (arn:%s:iam::aws:policy/...) "
                "and its own account's (%s)" % (option, arn, parsed.get("account_id"), partition, account_id)), None
    if _policy_exists(iam, arn):
        return None, None
    if parsed["account_id"] == "aws":
        return ("%s %r does not exist (GetPolicy: NoSuchEntity): there is no AWS-managed policy of that name; check "
                "the spelling, e.g. with aws iam get-policy --policy-arn %s" % (option, arn, arn)), None
    if assume_missing:
        return None, ("%s %r does not exist yet: check mode assumes an earlier task creates it "
                      "(keyless.aws.iam_managed_policy); a real run refuses it before changing anything if it still "
                      "does not exist" % (option, arn))
    return ("%s %r does not exist (GetPolicy: NoSuchEntity): create it first (keyless.aws.iam_managed_policy) or "
            "fix the ARN" % (option, arn)), None


def resolve_policy_arns(iam, values, partition, account_id, assume_missing=False, attached=()):
    """Managed policies given as ARNs or names -> (arns, errors, warnings), with GetPolicy reads only (never by
    listing every policy in the account), so that a role is never created or changed with a policy IAM would
    refuse to attach.

    ARNs: checked with check_policy_arn, except those already attached to the role (IAM refuses to delete a
    policy that is attached, so they exist). Names: looked up on the two ARNs they can mean; one found is used,
    both found is ambiguous. A name found nowhere is an error; with assume_missing=True (check mode) it is
    taken to be a customer-managed policy an earlier task would create, so a --check run of a whole playbook
    still predicts, and reported as a warning."""
    arns, errors, warnings = [], [], []
    for value in values:
        if value.startswith("arn:"):
            error, warning = (None, None) if value in attached else check_policy_arn(
                iam, value, "managed_policies item", partition, account_id, assume_missing)
            errors.extend([error] if error else [])
            warnings.extend([warning] if warning else [])
            if not error:
                arns.append(value)
            continue
        candidates = policy_arn_candidates(value, partition, account_id)
        found = [arn for arn in candidates if _policy_exists(iam, arn)]
        if len(found) == 1:
            arns.append(found[0])
        elif not found and assume_missing:
            arns.append(candidates[1])
            warnings.append("managed_policies: no policy named %r exists yet (no AWS-managed %s either); check mode "
                            "assumes %s will exist; a real run refuses it before changing anything if it still does "
                            "not exist" % (value, candidates[0], candidates[1]))
        elif not found:
            errors.append("managed_policies: no managed policy named %r: neither %s exists; give its ARN or create it "
                          "first" % (value, " nor ".join(candidates)))
        else:
            errors.append("managed_policies: %r is ambiguous: both %s exist; give the ARN" % (value, " and ".join(found)))
    return sorted(set(arns)), errors, warnings


def wait_role_ready(iam, name, consecutive=3, timeout=120):
    """`consecutive` successful GetRole reads in a row within `timeout` seconds (IAM is eventually
    consistent: one good read may be followed by NoSuchEntity). Raises AwsCallError on timeout."""
    wait_consecutive(lambda: get_role(iam, name), lambda role: role is not None, consecutive, timeout,
                     READY_DELAY, "role %s" % name, "GetRole")
    return True
