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
moment and a new Associate gets IncorrectState; a new association reads `associating` for a moment, and
Replace or Disassociate of it answers IncorrectState until it is `associated`.

    plan_association(instance_state, current, desired_arn, state="present") -> action
        instance_state: "running" | "stopped"; current: the active association
        ({association_id, state, profile_arn}) or None; desired_arn: the profile's ARN.
        present: no association -> associate; same ARN -> none; other ARN -> replace (running) or
        disassociate_associate (stopped). absent: association -> disassociate; none (or one already
        disassociating) -> none.
    first_lane(action) -> the AWS bucket the action's first call draws from (executor lanes)
    apply_association(ec2, action, instance_id, current, profile_arn, propagation, instance_state="running")
        Makes the calls; returns {"association_id", "state", "action"} (action may differ from the one
        planned when the association changed under us). Replace answering IncorrectState (the association
        is still `associating`) is retried until it is associated (retries.ASSOCIATION_SETTLING): on a
        running instance we never disassociate to replace, which would leave it without credentials.
        Replace answering that the association is gone (InvalidAssociationID.NotFound, or IncorrectState
        past the wait), or Associate answering IncorrectState (an association appeared since the observe),
        re-reads the instance's association and acts on what is there: associate (waiting out one that is
        disassociating; never a second Disassociate of it), nothing (ours), or replace it (running) /
        disassociate then associate (stopped). Associate and Replace ride out profile propagation under
        `propagation` (retries.PROFILE_PROPAGATION within the propagation_timeout option); after our own
        disassociate an IncorrectState is waited out (retries.ASSOCIATION_SETTLING) unless the association
        it reports is ours (a retry whose first response was lost). Disassociate waits out an association
        still `associating`.
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
# The lane of an action is the bucket of its first call: one bucket per EC2 API.
LANES = {"associate": "AssociateIamInstanceProfile", "replace": "ReplaceIamInstanceProfileAssociation",
         "disassociate": "DisassociateIamInstanceProfile", "disassociate_associate": "DisassociateIamInstanceProfile"}
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
    """Disassociate; an association still `associating` answers IncorrectState until it is associated: wait
    for that (ASSOCIATION_SETTLING). One already gone is the goal reached."""
    try:
        resp = call(ec2, "DisassociateIamInstanceProfile", {"AssociationId": association_id}, ASSOCIATION_SETTLING,
                    instance_id)
    except AwsCallError as exc:
        if exc.code == "InvalidAssociationID.NotFound":
            return {"association_id": None, "state": "disassociated"}  # already gone: that is the goal
        raise
    assoc = resp.get("IamInstanceProfileAssociation") or {}
    return {"association_id": association_id, "state": assoc.get("State")}


def _replace(ec2, association_id, instance_id, profile_arn, propagation):
    """Replace, riding out profile propagation and an association still `associating` (IncorrectState until it
    is associated): on a running instance Replace is the only way that never leaves it without credentials."""
    def settling(exc):
        return exc.response.get("Error", {}).get("Code") == "IncorrectState"
    retry = propagation.within(max(propagation.timeout, ASSOCIATION_SETTLING.timeout))
    resp = call(ec2, "ReplaceIamInstanceProfileAssociation",
                {"AssociationId": association_id, "IamInstanceProfile": {"Arn": profile_arn}}, retry, instance_id,
                retry_if=settling)
    assoc = resp.get("IamInstanceProfileAssociation") or {}
    return {"association_id": assoc.get("AssociationId"), "state": assoc.get("State")}


def _act_on_current(ec2, instance_id, instance_state, profile_arn, propagation, tried):
    """The association changed under us (since the observe, or while we waited): read it and act on it.

    None or one already going away (disassociating): associate, waiting the old one out. Ours: nothing to do.
    Another profile's, active: replace it (running) or disassociate then associate (stopped) -- never a
    disassociate on a running instance, and never a second disassociate of one already disassociating."""
    found = current_association(ec2, instance_id)
    if found is not None and found.get("profile_arn") == profile_arn and found["state"] != "disassociating":
        return {"association_id": found["association_id"], "state": found["state"], "action": "none"}
    if found is None or found["state"] == "disassociating":
        return dict(_associate(ec2, instance_id, profile_arn, propagation, settle=True), action="associate")
    if found["association_id"] in tried:
        raise AwsCallError("ReplaceIamInstanceProfileAssociation", "IncorrectState",
                           "association %s of %s did not become replaceable" % (found["association_id"], instance_id),
                           instance_id, "rerun the task once the instance's association is settled")
    tried.add(found["association_id"])
    action = "replace" if instance_state == "running" else "disassociate_associate"
    return apply_association(ec2, action, instance_id, found, profile_arn, propagation, instance_state, tried)


def apply_association(ec2, action, instance_id, current, profile_arn, propagation, instance_state="running",
                      tried=None):
    """Make the calls of one instance's action (see module docstring)."""
    tried = set() if tried is None else tried
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
        return _act_on_current(ec2, instance_id, instance_state, profile_arn, propagation, tried)
    if action == "replace":
        try:
            return dict(_replace(ec2, current["association_id"], instance_id, profile_arn, propagation), action=action)
        except AwsCallError as exc:
            if exc.code not in NOT_ACTIVE_CODES:
                raise
        tried.add(current["association_id"])
        return _act_on_current(ec2, instance_id, instance_state, profile_arn, propagation, tried)
    if action == "disassociate_associate":
        _disassociate(ec2, current["association_id"], instance_id)
        return dict(_associate(ec2, instance_id, profile_arn, propagation, settle=True), action=action)
    raise ValueError("unknown association action %r" % (action,))
