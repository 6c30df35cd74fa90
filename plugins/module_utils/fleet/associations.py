# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IAM instance profile associations, one instance at a time: the plan (pure) and its calls.
Private to the collection.

AWS facts: an instance has at most one active association (associating, associated, disassociating);
AssociateIamInstanceProfile works on running and stopped instances; ReplaceIamInstanceProfileAssociation is
documented for running instances only, so a stopped instance with another profile is disassociated, then
associated. Right after a profile is created EC2 may answer InvalidParameterValue "Invalid IAM Instance
Profile name" for seconds; right after a disassociate the old association stays `disassociating` for a
moment and a new Associate gets IncorrectState.

    plan_association(instance_state, current, desired_arn, state="present") -> action
        instance_state: "running" | "stopped"; current: the active association
        ({association_id, state, profile_arn}) or None; desired_arn: the profile's ARN.
        present: no association -> associate; same ARN -> none; other ARN -> replace (running) or
        disassociate_associate (stopped). absent: association -> disassociate; none (or one already
        disassociating) -> none.
    first_lane(action) -> the AWS bucket the action's first call draws from (executor lanes)
    apply_association(ec2, action, instance_id, current, profile_arn, propagation) -> dict
        Makes the calls; returns {"association_id", "state", "action"} (action may differ from the one
        planned when AWS forced a fallback). Replace answering that the association is not active
        (IncorrectState / IncorrectInstanceState / InvalidAssociationID.NotFound) falls back to
        disassociate then associate. Associate answering IncorrectState (an association appeared since
        the observe) re-reads it and replaces it. Associate and Replace ride out profile propagation under
        `propagation` (retries.PROFILE_PROPAGATION within the propagation_timeout option); after our own
        disassociate an IncorrectState is waited out (retries.ASSOCIATION_SETTLING) unless the association
        it reports is ours (a retry whose first response was lost).
    validate_profile_option(value) -> list[str]
"""

from __future__ import annotations

from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import validate_name_or_arn
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import ASSOCIATION_SETTLING, call

ACTIONS = ("none", "associate", "replace", "disassociate_associate", "disassociate")
NOT_ACTIVE_CODES = ("IncorrectState", "IncorrectInstanceState", "InvalidAssociationID.NotFound")
# Association states, most current first: during a Replace the new one is associating while the old is
# disassociating; `disassociated` ones are history.
ASSOCIATION_RANK = {"associating": 3, "associated": 2, "disassociating": 1}
LANES = {"associate": "AssociateIamInstanceProfile", "replace": "mutating", "disassociate": "mutating",
         "disassociate_associate": "mutating"}
OPERATION = {"associate": "AssociateIamInstanceProfile", "replace": "ReplaceIamInstanceProfileAssociation",
             "disassociate_associate": "DisassociateIamInstanceProfile + AssociateIamInstanceProfile",
             "disassociate": "DisassociateIamInstanceProfile"}


def validate_profile_option(value):
    if value is None:
        return []
    err = validate_name_or_arn(value, "instance_profile", "instance-profile", 128)
    return [err + " (an instance profile name, or arn:aws:iam::<account>:instance-profile/<path/><name>)"] if err else []


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


def first_lane(action):
    return LANES[action]


def better_association(assoc, current):
    """Of two associations of one instance, the more current (see ASSOCIATION_RANK)."""
    return current is None or ASSOCIATION_RANK.get(assoc["state"], 0) > ASSOCIATION_RANK.get(current["state"], 0)


def current_association(ec2, instance_id):
    """Re-read one instance's active association (only on a fallback path)."""
    resp = call(ec2, "DescribeIamInstanceProfileAssociations",
                {"Filters": [{"Name": "instance-id", "Values": [instance_id]}]}, resource=instance_id)
    best = None
    for raw in resp.get("IamInstanceProfileAssociations") or ():
        if raw.get("State") not in ASSOCIATION_RANK:
            continue
        assoc = {"association_id": raw["AssociationId"], "state": raw["State"],
                 "profile_arn": (raw.get("IamInstanceProfile") or {}).get("Arn")}
        if better_association(assoc, best):
            best = assoc
    return best


def _associate(ec2, instance_id, profile_arn, propagation, settle=False):
    ours = {}

    def ours_or_settling(exc):
        """After our own disassociate: IncorrectState is the old association settling, or our own
        association from an earlier try whose response was lost."""
        if not settle or exc.response.get("Error", {}).get("Code") != "IncorrectState":
            return False
        found = current_association(ec2, instance_id)
        if found and found.get("profile_arn") == profile_arn:
            ours.update(found)
            return False
        return True

    retry = propagation.within(max(propagation.timeout, ASSOCIATION_SETTLING.timeout)) if settle else propagation
    try:
        resp = call(ec2, "AssociateIamInstanceProfile", {"InstanceId": instance_id, "IamInstanceProfile": {"Arn": profile_arn}},
                    retry, instance_id, retry_if=ours_or_settling)
    except AwsCallError:
        if ours:
            return {"association_id": ours["association_id"], "state": ours["state"]}
        raise
    assoc = resp.get("IamInstanceProfileAssociation") or {}
    return {"association_id": assoc.get("AssociationId"), "state": assoc.get("State")}


def _disassociate(ec2, association_id, instance_id):
    try:
        resp = call(ec2, "DisassociateIamInstanceProfile", {"AssociationId": association_id}, resource=instance_id)
    except AwsCallError as exc:
        if exc.code == "InvalidAssociationID.NotFound":
            return {"association_id": None, "state": "disassociated"}  # already gone: that is the goal
        raise
    assoc = resp.get("IamInstanceProfileAssociation") or {}
    return {"association_id": association_id, "state": assoc.get("State")}


def apply_association(ec2, action, instance_id, current, profile_arn, propagation):
    """Make the calls of one instance's action (see module docstring)."""
    if action == "none":
        return {"association_id": (current or {}).get("association_id"), "state": (current or {}).get("state"),
                "action": "none"}
    if action == "disassociate":
        return dict(_disassociate(ec2, current["association_id"], instance_id), action=action)
    if action == "associate":
        try:
            return dict(_associate(ec2, instance_id, profile_arn, propagation), action=action)
        except AwsCallError as exc:
            if exc.code != "IncorrectState":
                raise
        # an association appeared since the observe (e.g. one still associating): act on it instead
        found = current_association(ec2, instance_id)
        if found is None or found.get("profile_arn") == profile_arn:
            return {"association_id": (found or {}).get("association_id"), "state": (found or {}).get("state"),
                    "action": "none"}
        return apply_association(ec2, "disassociate_associate", instance_id, found, profile_arn, propagation)
    if action == "replace":
        try:
            resp = call(ec2, "ReplaceIamInstanceProfileAssociation",
                        {"AssociationId": current["association_id"], "IamInstanceProfile": {"Arn": profile_arn}},
                        propagation, instance_id)
        except AwsCallError as exc:
            if exc.code not in NOT_ACTIVE_CODES:
                raise
            return apply_association(ec2, "disassociate_associate", instance_id, current, profile_arn, propagation)
        assoc = resp.get("IamInstanceProfileAssociation") or {}
        return {"association_id": assoc.get("AssociationId"), "state": assoc.get("State"), "action": "replace"}
    if action == "disassociate_associate":
        _disassociate(ec2, current["association_id"], instance_id)
        return dict(_associate(ec2, instance_id, profile_arn, propagation, settle=True), action=action)
    raise ValueError("unknown association action %r" % (action,))
