# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two fleet steps: the instance profile (ProfileStep) and the metadata options (MetadataStep).
Private to the collection.

Each step reads what it needs once for the whole fleet (prepare), decides per instance with the pure plans
of associations.py and metadata.py (plan), makes one instance's calls on its bucket's lane (apply), and
re-reads pending instances in bulk (settled). rollout.Rollout runs them; step.Step is the interface.
The step objects are built from the module's params (the option names of ec2_profile_association and
ec2_metadata_options). What a module reads back: ProfileStep.report() {instance_profile, owned_instances},
.associations (the active associations read by prepare), .desired_arn; MetadataStep.report() {held, rolled_back},
.held(), .held_message().

Ownership (ownership.py): ProfileStep holds (status held, with what to converge instead) every instance whose
profile would change while a protected owner (EKS, Karpenter, Beanstalk, Batch, ECS) launched it, unless the
owner's kind is in include_owned; MetadataStep keeps the hop limit at 2 on a container owner's instance when its
own change would otherwise leave IMDSv2 required below 2 hops.
"""

from __future__ import annotations

import datetime
import math
import threading

from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import iam_arn
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import PROFILE_PROPAGATION, call
from ansible_collections.keyless.aws.plugins.module_utils.fleet import metadata as md
from ansible_collections.keyless.aws.plugins.module_utils.fleet.associations import (
    OPERATION,
    apply_association,
    first_lane,
    plan_association,
)
from ansible_collections.keyless.aws.plugins.module_utils.fleet.imdsv1_usage import (
    default_min_days,
    imdsv1_evidence,
    rejected_since,
)
from ansible_collections.keyless.aws.plugins.module_utils.fleet.ownership import (
    CONTAINER_HOP_LIMIT,
    needs_container_hops,
    owner_reason,
    profile_left_to_owner,
)
from ansible_collections.keyless.aws.plugins.module_utils.fleet.results import result
from ansible_collections.keyless.aws.plugins.module_utils.fleet.selection import (
    FILTER_VALUES_MAX,
    association_index,
    build_filters,
    describe_instances,
)
from ansible_collections.keyless.aws.plugins.module_utils.fleet.step import InstanceChange, Step
from ansible_collections.keyless.aws.plugins.module_utils.fleet.waves import watch_loop
from ansible_collections.keyless.aws.plugins.module_utils.iam.profiles import resolve_instance_profile

MODIFY_LANE = "ModifyInstanceMetadataOptions"
# A metadata-options change to a stopped instance is applied at its next start (its state reads `pending` until
# then): it is reported changed, never waited on or failed.
STOPPED_APPLIES_AT_START = "instance is stopped: AWS applies the change at its next start (state pending until then)"


def _profile_view(arn):
    return {"instance_profile": arn}


class ProfileStep(Step):
    """The instance profile of every instance: associate, replace, disassociate+associate, or disassociate.

    params: instance_profile (name or ARN; None with state=absent), state (present | absent),
    propagation_timeout (seconds to ride out EC2 not knowing a new profile yet), include_owned (owner kinds whose
    instances' profiles may change)."""

    name = "profile"
    verb = "converge their instance profile"

    def __init__(self, params, check_mode):
        self.value = params.get("instance_profile")
        self.state = params.get("state") or "present"
        self.check_mode = check_mode
        self.propagation = PROFILE_PROPAGATION.within(params.get("propagation_timeout") or 0)
        self.profile = None
        self.associations = {}  # instance id -> its active association (prepare)
        self.include_owned = list(params.get("include_owned") or ())
        self.left_to_owner = {}  # instance id -> the owner its profile change was left to (plan)
        self.wait_reason = "the association did not become %s" % (
            "disassociated" if self.state == "absent" else "associated")

    @property
    def desired_arn(self):
        return self.profile["arn"] if self.profile else None

    def prepare(self, run, actionable):
        if self.state == "present":
            self.profile = resolve_instance_profile(
                run.client("iam"), self.value, self.check_mode,
                lambda name: iam_arn(run.ctx.partition, run.ctx.account_id, "instance-profile", "/", name))
        # Only an instance that shows a profile can have an association: read those in bulk.
        with_profile = [iid for iid, rec in actionable.items() if rec["profile_arn"]]
        self.associations = association_index(run.client("ec2"), with_profile)

    def plan(self, record):
        iid = record["instance_id"]
        current = self.associations.get(iid)
        before = _profile_view((current or {}).get("profile_arn"))
        action = plan_association(record["state"], current, self.desired_arn, self.state)
        if action == "none":
            return result(iid, "none", before, before, "unchanged")
        owner = record.get("owner")
        if profile_left_to_owner(owner, self.include_owned):
            self.left_to_owner[iid] = owner
            return result(iid, action, before, _profile_view(self.desired_arn), "held", owner_reason(owner))
        return InstanceChange(iid, action, before, _profile_view(self.desired_arn), first_lane(action),
                              {"current": current, "instance_state": record["state"]})

    def operation(self, change):
        return OPERATION[change.action]

    def apply(self, run, change):
        out = apply_association(run.client("ec2", change.lane), change.action, change.instance_id,
                                change.data["current"], self.desired_arn, self.propagation,
                                change.data["instance_state"])
        final = "disassociated" if self.state == "absent" else "associated"
        return {"action": out["action"], "settled": out["state"] == final}

    def settled(self, run, pending):
        """The pending instances whose association is not final yet (one bulk read)."""
        index = association_index(run.client("ec2"), pending)
        still = set()
        for iid in pending:
            assoc = index.get(iid)
            if self.state == "absent":
                if assoc is not None:
                    still.add(iid)
            elif assoc is None or assoc["state"] != "associated" or assoc["profile_arn"] != self.desired_arn:
                still.add(iid)
        return still

    def owned_instances(self):
        """The instances whose profile change was left to their owner: [{instance_id, owner, reason}]."""
        return [{"instance_id": iid, "owner": {k: owner[k] for k in ("kind", "name", "service")},
                 "reason": owner_reason(owner)} for iid, owner in sorted(self.left_to_owner.items())]

    def report(self):
        return {"instance_profile": {"name": self.profile["name"], "arn": self.profile["arn"]} if self.profile else None,
                "owned_instances": self.owned_instances()}


class MetadataStep(Step):
    """The metadata options of every instance: only the fields given are compared and changed.

    params: the five metadata options (metadata.FIELDS), the safe rollout's (waves.safe_rollout_argument_spec), and
    the selector (to re-read the fleet in the fewest calls while waiting).

    Safe rollout: with imdsv1_usage_check, prepare reads the IMDSv1 evidence (imdsv1_usage.imdsv1_evidence) of the
    instances whose HttpTokens would go to required, and plan holds each with signal calls, unknown, or no_data
    (unless imdsv1_no_data=enforce). A change that requires IMDSv2 is gated (waves.py); watch() puts an instance whose
    MetadataNoTokenRejected rises during its wave's watch back to http_tokens=optional - that field only, every
    other option as the change left it."""

    name = "metadata"
    verb = "converge their metadata options"
    wait_reason = "the metadata options did not become applied"

    def __init__(self, params):
        self.params = params
        self.desired = md.desired_fields(params)
        self.include_owned = list(params.get("include_owned") or ())
        self.desired_for = {}  # instance id -> its own desired fields, where ownership changes them (plan)
        self.evidence = {}  # instance id -> its IMDSv1 evidence (prepare, imdsv1_usage_check)
        self.held_ids = {}  # instance id -> its evidence, for the instances held back (plan)
        self.rolled_back = {}  # instance id -> {rejected, wave seconds} (watch)

    def min_days(self):
        days = self.params.get("imdsv1_min_days")
        return default_min_days(self.params["imdsv1_lookback_days"]) if days is None else days

    def prepare(self, run, actionable):
        """Read the IMDSv1 evidence of the instances whose HttpTokens would go to required (imdsv1_usage_check)."""
        if not self.params.get("imdsv1_usage_check"):
            return
        tightening = [iid for iid in sorted(actionable)
                      if md.metadata_changes(actionable[iid]["metadata"], self.desired)
                      .get("HttpTokens", {}).get("after") == "required"]
        if tightening:
            self.evidence = imdsv1_evidence(run.client("cloudwatch"), tightening, self.params["imdsv1_lookback_days"],
                                            self.min_days())

    def holds(self, evidence):
        """Whether this evidence holds an instance back (pure)."""
        signal = evidence["signal"]
        return signal in ("calls", "unknown") or (signal == "no_data" and self.params.get("imdsv1_no_data") != "enforce")

    def plan(self, record):
        iid = record["instance_id"]
        before = md.options_view(record["metadata"])
        desired = self.desired
        changes = md.metadata_changes(record["metadata"], desired)
        if not changes:
            return result(iid, "none", before, before, "unchanged")
        request = md.full_request(record["metadata"], desired)
        reason = None
        owner = record.get("owner")
        if needs_container_hops(owner, self.include_owned, request, changes):
            desired = dict(desired, HttpPutResponseHopLimit=CONTAINER_HOP_LIMIT)
            self.desired_for[iid] = desired
            if not md.metadata_changes(record["metadata"], desired):
                return result(iid, "none", before, before, "unchanged")  # already what the owner needs
            request = md.full_request(record["metadata"], desired)
            reason = ("hop limit %d: %s runs containers on it, which reach IMDS through one more hop (name %r in "
                      "include_owned to set it yourself)" % (CONTAINER_HOP_LIMIT, owner["service"], owner["kind"]))
        evidence = self.evidence.get(iid)
        if evidence is not None and self.holds(evidence):
            self.held_ids[iid] = evidence
            return result(iid, "modify", before, md.options_view(request), "held",
                          "%s: requiring IMDSv2 could break it" % evidence["reason"])
        tightens = changes.get("HttpTokens", {}).get("after") == "required"
        return InstanceChange(iid, "modify", before, md.options_view(request), MODIFY_LANE,
                              {"request": request, "instance_state": record["state"], "reason": reason,
                               "tightens": tightens})

    def gated(self, change):
        return bool(change.data.get("tightens"))

    def hold(self, instance_id, reason):
        evidence = self.evidence.get(instance_id) or {"calls": None, "rejected": None, "days_with_data": None,
                                                      "days": []}
        self.held_ids[instance_id] = dict(evidence, signal="wave", reason=reason)

    def operation(self, change):
        return "ModifyInstanceMetadataOptions"

    def apply(self, run, change):
        resp = call(run.client("ec2", change.lane), "ModifyInstanceMetadataOptions",
                    dict(change.data["request"], InstanceId=change.instance_id), resource=change.instance_id)
        state = (resp.get("InstanceMetadataOptions") or {}).get("State")
        if change.data["instance_state"] == "stopped" and state != "applied":
            # AWS applies it at the next start; the state reads `pending` until then: nothing to wait for
            return {"action": "modify", "settled": True,
                    "reason": "; ".join(r for r in (STOPPED_APPLIES_AT_START, change.data.get("reason")) if r)}
        return {"action": "modify", "settled": state == "applied", "reason": change.data.get("reason")}

    def watch(self, run, changes, since):
        """Read MetadataNoTokenRejected of the wave's instances through watch_seconds; put each whose count rises
        back to http_tokens=optional at once -> {instance_id: (status, reason, after)}."""
        by_id = {change.instance_id: change for change in changes}
        seconds = self.params["watch_seconds"]
        started = datetime.datetime.fromtimestamp(since, datetime.timezone.utc)
        undone = {}
        lock = threading.Lock()

        def read(ids):
            return rejected_since(run.client("cloudwatch"), ids, started)

        def undo(iid, rejected):
            change = by_id[iid]
            request = dict(change.data["request"], HttpTokens="optional")
            try:
                call(run.client("ec2", MODIFY_LANE), "ModifyInstanceMetadataOptions", dict(request, InstanceId=iid),
                     resource=iid)
            except Exception as exc:  # pylint: disable=broad-except  # one instance never stops the watch
                out = ("failed", "%g IMDSv1 calls refused (MetadataNoTokenRejected) after IMDSv2 was required, and "
                       "putting it back to http_tokens=optional failed: %s" % (
                           rejected, AwsCallError.from_exception(exc, "ModifyInstanceMetadataOptions", iid).text()),
                       change.after)
            else:
                self.rolled_back[iid] = {"instance_id": iid, "rejected": rejected}
                out = ("rolled_back", "%g IMDSv1 calls refused (MetadataNoTokenRejected) within %ds of requiring "
                       "IMDSv2: put back to http_tokens=optional (its other options as set); held by the signal "
                       "next time" % (rejected, seconds), md.options_view(request))
            with lock:
                undone[iid] = out

        watch_loop(sorted(by_id), seconds, read, undo)
        return undone

    def settled(self, run, pending):
        """The pending instances not yet `applied` with the desired values (bulk reads: by id, or the whole
        selector again when that takes fewer calls)."""
        ec2 = run.client("ec2")
        by_ids = math.ceil(len(pending) / float(FILTER_VALUES_MAX))
        if run.observe_calls is not None and run.observe_calls < by_ids and not self.params.get("instance_ids"):
            records, _calls = describe_instances(ec2, build_filters(self.params))
        else:
            records, _calls = describe_instances(ec2, [], sorted(pending))
        still = set()
        for iid in pending:
            rec = records.get(iid)
            if rec is None:
                continue  # gone (terminated and purged): nothing left to wait for
            options = rec["metadata"]
            if options.get("State") == "pending" or md.metadata_changes(options, self.desired_for.get(iid, self.desired)):
                still.add(iid)
        return still

    def held(self):
        """[{instance_id, signal, imdsv1_calls, rejected, days_with_data, days, reason}] of the instances held back
        (signal calls, no_data, unknown, or wave: no wave of this run takes it)."""
        return [{"instance_id": iid, "signal": ev["signal"], "imdsv1_calls": ev["calls"], "rejected": ev["rejected"],
                 "days_with_data": ev["days_with_data"], "days": ev["days"], "reason": ev["reason"]}
                for iid, ev in sorted(self.held_ids.items())]

    def report(self):
        return {"held": self.held(), "rolled_back": [self.rolled_back[iid] for iid in sorted(self.rolled_back)]}

    def held_message(self):
        """Why the task fails with fail_on_held=true (None when nothing was held back)."""
        held = self.held()
        if not held:
            return None
        return "%d instances held back at http_tokens=optional (fail_on_held=true): %s" % (
            len(held), "; ".join("%s (%s)" % (h["instance_id"], h["reason"]) for h in held))
