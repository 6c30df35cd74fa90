# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IAM instance profile associations, one instance at a time: the plan (pure) and its calls.

    plan_association(instance_state, current, desired_arn, state="present") -> action
        instance_state: "running" | "stopped"; current: the active association
        ({association_id, state, profile_arn}) or None; desired_arn: the profile's ARN.
        present: no association -> associate; same ARN -> none; other ARN -> replace (running) or
        disassociate_associate (stopped: Replace is documented for running instances only).
        absent: association -> disassociate; none (or one already disassociating) -> none.
    apply_association(ec2, action, instance_id, current, profile_arn, deadline, clock=, sleep=) -> dict
        Makes the calls; returns {"association_id", "state", "action"} (action may differ from the one
        planned when AWS forced a fallback). Replace answering that the association is not active
        (IncorrectState / IncorrectInstanceState / InvalidAssociationID.NotFound) falls back to
        disassociate then associate. Associate answering IncorrectState (an association appeared
        since the observe) re-reads it and replaces. AssociateIamInstanceProfile or Replace answering
        InvalidParameterValue "Invalid IAM Instance Profile ..." (IAM has not propagated a new profile
        to EC2 yet) is retried with backoff until `deadline` (clock time).
    profile_from_option(value) -> (name, arn or None) / validate_profile_option(value) -> list[str]
    resolve_profile(iam, value, check_mode, predicted_arn) -> {"name", "arn", "roles", "exists"}
        One IAM GetInstanceProfile. Fails (AwsCallError) when the profile does not exist or holds no role,
        except in check mode, where the profile may be created by an earlier task of the same --check
        run: then the ARN is predicted and "exists" is False.
"""

from __future__ import annotations

import re
import time

from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError, error_code

try:
    from botocore.exceptions import ClientError
except ImportError:  # pragma: no cover - sanity import test runs without botocore
    ClientError = Exception

ACTIONS = ("none", "associate", "replace", "disassociate_associate", "disassociate")
PROFILE_NAME_RE = re.compile(r"^[\w+=,.@-]{1,128}$")
PROFILE_ARN_RE = re.compile(r"^arn:(aws[a-z-]*):iam::([0-9]{12}):instance-profile/((?:[\w+=,.@-]+/)*)([\w+=,.@-]{1,128})$")
NOT_ACTIVE_CODES = ("IncorrectState", "IncorrectInstanceState", "InvalidAssociationID.NotFound")
PROPAGATION_MARK = "invalid iam instance profile"
# After a disassociate, AWS keeps the old association `disassociating` for a moment and refuses a new
# one with IncorrectState: retry for up to this long.
SETTLE_SECONDS = 60


def validate_profile_option(value):
    if value is None:
        return []
    if PROFILE_NAME_RE.match(value) or PROFILE_ARN_RE.match(value):
        return []
    return ["instance_profile=%r: give an instance profile name (1-128 of letters, digits and +=,.@_-) or its ARN "
            "(arn:aws:iam::<account>:instance-profile/<path/><name>)" % (value,)]


def profile_from_option(value):
    """(name, arn or None) of the instance_profile option."""
    match = PROFILE_ARN_RE.match(value)
    if match:
        return match.group(4), value
    return value, None


def plan_association(instance_state, current, desired_arn, state="present"):
    """The action for one instance (see module docstring)."""
    active = current if current and current.get("state") != "disassociating" else None
    if state == "absent":
        return "disassociate" if active else "none"
    if active is None:
        return "associate"
    if active.get("profile_arn") == desired_arn:
        return "none"
    return "replace" if instance_state == "running" else "disassociate_associate"


def resolve_profile(iam, value, check_mode=False, predicted_arn=None):
    """Resolve instance_profile once (see module docstring). predicted_arn(name) -> arn for check mode."""
    name, arn = profile_from_option(value)
    try:
        profile = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise AwsCallError.from_client_error(exc, "GetInstanceProfile", name)
        if check_mode:
            return {"name": name, "arn": arn or predicted_arn(name), "roles": [], "exists": False}
        raise AwsCallError("GetInstanceProfile", "NoSuchEntity", "instance profile %s does not exist" % name, name,
                           "create it first (keyless.aws.iam_instance_profile), or check the name and account")
    if arn and profile["Arn"] != arn:
        raise AwsCallError("GetInstanceProfile", None, "instance_profile=%s names profile %s, but that profile's ARN "
                           "is %s (another account or path?)" % (value, name, profile["Arn"]), name,
                           "give the name, or the ARN exactly as IAM reports it")
    roles = [r["RoleName"] for r in profile.get("Roles") or ()]
    if not roles and not check_mode:
        raise AwsCallError("GetInstanceProfile", None, "instance profile %s holds no role: instances would get no "
                           "credentials" % name, name, "add a role to it first (keyless.aws.iam_instance_profile role=...)")
    return {"name": profile["InstanceProfileName"], "arn": profile["Arn"], "roles": roles, "exists": True}


def _message(exc):
    return (getattr(exc, "response", {}).get("Error", {}).get("Message") or "").lower()


def is_propagation_error(exc):
    return error_code(exc) == "InvalidParameterValue" and PROPAGATION_MARK in _message(exc)


def _retrying(call, retry_if, deadline, clock, sleep, first_delay=1.0, max_delay=10.0):
    """call() until it succeeds or retry_if(exc) is false or the deadline passes."""
    delay = first_delay
    while True:
        try:
            return call()
        except ClientError as exc:
            if not retry_if(exc) or clock() + delay > deadline:
                raise
            sleep(delay)
            delay = min(max_delay, delay * 2)


def _associate(ec2, instance_id, profile_arn, deadline, clock, sleep, settle=False):
    settle_deadline = clock() + SETTLE_SECONDS
    ours = {}

    def retry_if(exc):
        if is_propagation_error(exc):
            return clock() < deadline
        if not (settle and error_code(exc) == "IncorrectState"):
            return False
        # The existing association may be our own: an earlier try whose response was lost.
        found = current_association(ec2, instance_id)
        if found and found.get("profile_arn") == profile_arn:
            ours.update(found)
            return False
        # otherwise the old association, right after our own disassociate, is still settling
        return clock() < settle_deadline

    try:
        resp = _retrying(lambda: ec2.associate_iam_instance_profile(
            InstanceId=instance_id, IamInstanceProfile={"Arn": profile_arn}),
            retry_if, max(deadline, settle_deadline if settle else deadline), clock, sleep)
    except ClientError:
        if ours:
            return {"association_id": ours["association_id"], "state": ours["state"]}
        raise
    assoc = resp.get("IamInstanceProfileAssociation") or {}
    return {"association_id": assoc.get("AssociationId"), "state": assoc.get("State")}


def _disassociate(ec2, association_id):
    try:
        resp = ec2.disassociate_iam_instance_profile(AssociationId=association_id)
    except ClientError as exc:
        if error_code(exc) == "InvalidAssociationID.NotFound":
            return {"association_id": None, "state": "disassociated"}  # already gone: that is the goal
        raise
    assoc = resp.get("IamInstanceProfileAssociation") or {}
    return {"association_id": association_id, "state": assoc.get("State")}


def current_association(ec2, instance_id):
    """Re-read one instance's active association (only on a fallback path)."""
    resp = ec2.describe_iam_instance_profile_associations(Filters=[{"Name": "instance-id", "Values": [instance_id]}])
    best = None
    rank = {"associating": 3, "associated": 2, "disassociating": 1}
    for raw in resp.get("IamInstanceProfileAssociations") or ():
        if raw.get("State") in rank and (best is None or rank[raw["State"]] > rank[best["State"]]):
            best = raw
    if best is None:
        return None
    return {"association_id": best["AssociationId"], "state": best["State"],
            "profile_arn": (best.get("IamInstanceProfile") or {}).get("Arn")}


def apply_association(ec2, action, instance_id, current, profile_arn, deadline, clock=time.monotonic,
                      sleep=time.sleep):
    """Make the calls of one instance's action (see module docstring)."""
    if action == "none":
        return {"association_id": (current or {}).get("association_id"), "state": (current or {}).get("state"),
                "action": "none"}
    if action == "disassociate":
        out = _disassociate(ec2, current["association_id"])
        out["action"] = action
        return out
    if action == "associate":
        try:
            out = _associate(ec2, instance_id, profile_arn, deadline, clock, sleep)
        except ClientError as exc:
            if error_code(exc) != "IncorrectState":
                raise
            # an association appeared since the observe (e.g. one still associating): act on it instead
            found = current_association(ec2, instance_id)
            if found is None or found.get("profile_arn") == profile_arn:
                return {"association_id": (found or {}).get("association_id"),
                        "state": (found or {}).get("state"), "action": "none"}
            return apply_association(ec2, "disassociate_associate", instance_id, found, profile_arn, deadline,
                                     clock, sleep)
        out["action"] = action
        return out
    if action == "replace":
        try:
            resp = _retrying(lambda: ec2.replace_iam_instance_profile_association(
                AssociationId=current["association_id"], IamInstanceProfile={"Arn": profile_arn}),
                lambda exc: is_propagation_error(exc) and clock() < deadline, deadline, clock, sleep)
        except ClientError as exc:
            if error_code(exc) not in NOT_ACTIVE_CODES:
                raise
            return apply_association(ec2, "disassociate_associate", instance_id, current, profile_arn, deadline,
                                     clock, sleep)
        assoc = resp.get("IamInstanceProfileAssociation") or {}
        return {"association_id": assoc.get("AssociationId"), "state": assoc.get("State"), "action": "replace"}
    if action == "disassociate_associate":
        _disassociate(ec2, current["association_id"])
        out = _associate(ec2, instance_id, profile_arn, deadline, clock, sleep, settle=True)
        out["action"] = action
        return out
    raise ValueError("unknown association action %r" % (action,))
