# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""iam_access_key's plan (pure): desired state + the observed key -> the calls, or a refusal that says why.

    plan_key(desired, observed, now) -> Plan        raises PlanError (the refusal) when the key may not change yet
    predicted(observed, plan) -> {status, inactive_since} after the plan (check mode reports it)

desired: state (active | inactive | absent), quiet_days, inactive_days, force.
observed: {key: keys.key_record() or None, inactive_since: the user's keyless:key-inactive:<masked> tag value (text)
or None, trail: None (no CloudTrail source) or {since: datetime, calls: n, last_event: {when, event_source,
event_name, source_ip, instance_id} or None}}.

The rules (issue 24, "Retire"):
- inactive: a key is deactivated only after a quiet period. GetAccessKeyLastUsed's LastUsedDate must be older than
  quiet_days (a key never used: its creation must be), and, with a CloudTrail source, the key made no call since
  `since` (when the instance's role took over). Otherwise the plan refuses, naming the last use. UpdateAccessKey
  Status=Inactive, then TagUser keyless:key-inactive:<masked id> = now (IAM keeps no date of deactivation): the
  clock of the delete. A key found Inactive without the tag (deactivated by hand) gets the tag: its clock starts now.
- active (the rollback): UpdateAccessKey Status=Active, and the tag is removed (UntagUser).
- absent: only a key already Inactive, whose tag is at least inactive_days old (force skips the tag's check, never the
  Inactive one); DeleteAccessKey, then UntagUser. A key that is gone already needs nothing.
Order: the key first, the record second: a failure between the two leaves a key Inactive without its date (the next
run tags it, starting the clock late: safe) rather than a date on a key still Active.

AWS facts relied on (IAM API reference): UpdateAccessKey(UserName, AccessKeyId, Status) "changes the status of the
specified access key from Active to Inactive, or vice versa"; an Inactive key "cannot be used" and can be made Active
again. DeleteAccessKey(UserName, AccessKeyId) is final (the secret cannot be recovered). TagUser(UserName, Tags)
adds or overwrites; UntagUser(UserName, TagKeys). Each answers NoSuchEntity for a user or key that does not exist.
"""

from __future__ import annotations

import datetime

from ansible_collections.keyless.aws.plugins.module_utils.accesskeys.keys import as_utc, inactive_tag_key, iso
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import PlanError
from ansible_collections.keyless.aws.plugins.module_utils.aws.plan import Plan
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import IAM_SETTLING

STATUS = {"active": "Active", "inactive": "Inactive"}


def describe_last_use(key):
    used = key.get("last_used") or {}
    if not used.get("date"):
        return "never used (IAM has no LastUsedDate), created %s" % key.get("created")
    where = ", ".join(p for p in (used.get("service"), used.get("region")) if p)
    return "last used %s%s" % (used["date"], " (%s)" % where if where else "")


def describe_event(event):
    text = "%s %s at %s from %s" % (event.get("event_source"), event.get("event_name"), iso(event.get("when")),
                                    event.get("source_ip") or "an unknown address")
    if event.get("instance_id"):
        text += " (%s)" % event["instance_id"]
    return text


MAX_USER_TAGS = 50  # IAM quotas: tags per IAM user (TagUser fails as a whole beyond it)


def quiet_refusal(key, quiet_days, trail, now):
    """Why the key is not quiet yet, or None when it may be deactivated."""
    threshold = now - datetime.timedelta(days=quiet_days)
    used = as_utc((key.get("last_used") or {}).get("date"))
    name = "%s of user %s" % (key["masked_id"], key["user"])
    if used is not None and used > threshold:
        return ("access key %s was %s, %d day(s) ago: quiet_days=%d needs no use since %s; refusing to deactivate it"
                % (name, describe_last_use(key), (now - used).days, quiet_days, iso(threshold)))
    created = as_utc(key.get("created"))
    if used is None and created is not None and created > threshold:
        return ("access key %s was never used but was created %s, %d day(s) ago: quiet_days=%d needs %s or older; "
                "refusing to deactivate it" % (name, key["created"], (now - created).days, quiet_days, iso(threshold)))
    if trail is not None and trail.get("truncated") and not trail.get("calls"):
        return ("access key %s: CloudTrail was read only in part (max_events reached) since %s, so a call of the key may "
                "have been missed; raise max_events or narrow regions; refusing to deactivate it" % (name, iso(trail["since"])))
    if trail is not None and trail.get("calls"):
        return ("access key %s made %d call(s) recorded by CloudTrail since %s, the last %s; refusing to deactivate it"
                % (name, trail["calls"], iso(trail["since"]), describe_event(trail["last_event"])))
    return None


def _used_since(key, inactive_since):
    """Whether the key's LastUsedDate (GetAccessKeyLastUsed) is after its recorded deactivation date: an inactive key
    cannot be used, so it was active again in between."""
    since = as_utc(inactive_since)
    used = as_utc((key.get("last_used") or {}).get("date"))
    return since is not None and used is not None and used > since


def _untag(plan, user, tag_key):
    plan.add("UntagUser", user, {"UserName": user, "TagKeys": [tag_key]}, before=tag_key, after=None)


def plan_key(desired, observed, now):
    key = observed.get("key")
    state = desired["state"]
    plan = Plan()
    if key is None:
        if state == "absent":
            return plan
        raise PlanError("the access key is not one of the user's keys: nothing to make %s" % state)
    user, tag_key = key["user"], inactive_tag_key(key["masked_id"])
    ident = {"UserName": user, "AccessKeyId": key["access_key_id"]}
    inactive_since = observed.get("inactive_since")
    if state == "inactive":
        if inactive_since is None and (observed.get("user_tag_count") or 0) >= MAX_USER_TAGS:
            # TagUser fails as a whole past IAM's 50 tags a user: refuse before the key is touched, not after
            raise PlanError("user %s has %d tags, IAM's maximum: the date this collection deactivates %s on cannot be "
                            "recorded (tag %s); remove a tag of the user first"
                            % (user, observed["user_tag_count"], key["masked_id"], tag_key))
        if key["status"] != "Inactive":
            refusal = quiet_refusal(key, desired["quiet_days"], observed.get("trail"), now)
            if refusal:
                raise PlanError(refusal)
            plan.add("UpdateAccessKey", key["masked_id"], dict(ident, Status="Inactive"), before="Active", after="Inactive")
        if key["status"] != "Inactive" or inactive_since is None or _used_since(key, inactive_since):
            # a key used after its recorded date was active again in between (reactivated outside this module):
            # its inactive clock starts now
            plan.add("TagUser", user, {"UserName": user, "Tags": [{"Key": tag_key, "Value": iso(now)}]},
                     before=inactive_since, after=iso(now))
    elif state == "active":
        if key["status"] != "Active":
            plan.add("UpdateAccessKey", key["masked_id"], dict(ident, Status="Active"), before="Inactive", after="Active")
        if inactive_since is not None:
            _untag(plan, user, tag_key)
    else:
        _plan_delete(plan, desired, key, inactive_since, now)
        plan.add("DeleteAccessKey", key["masked_id"], ident, before=key["status"], after=None, gone_ok=True)
        if inactive_since is not None:
            _untag(plan, user, tag_key)
    for change in plan:
        change.retry = IAM_SETTLING
    return plan


def _plan_delete(plan, desired, key, inactive_since, now):
    name = "access key %s of user %s" % (key["masked_id"], key["user"])
    if key["status"] != "Inactive":
        raise PlanError("%s is Active (%s): deactivate it first (state=inactive) and delete it once it has been "
                        "inactive for inactive_days=%d" % (name, describe_last_use(key), desired["inactive_days"]))
    if desired.get("force"):
        return
    since = as_utc(inactive_since)
    tag = inactive_tag_key(key["masked_id"])
    if since is None:
        raise PlanError("%s is Inactive but its user has no valid %s tag (the date this collection deactivated it%s): "
                        "refusing to delete it; run state=inactive to start the clock, or force=true"
                        % (name, tag, ", found %r" % inactive_since if inactive_since else ""))
    if _used_since(key, inactive_since):
        raise PlanError("%s was %s, after %s, the date recorded in %s: it was active again since (reactivated outside "
                        "this collection); refusing to delete it - run state=inactive to restart the clock"
                        % (name, describe_last_use(key), iso(since), tag))
    threshold = now - datetime.timedelta(days=desired["inactive_days"])
    if since > threshold:
        raise PlanError("%s has been inactive since %s, %d day(s): inactive_days=%d needs %s or earlier; refusing to "
                        "delete it (force=true deletes it anyway)"
                        % (name, iso(since), (now - since).days, desired["inactive_days"], iso(threshold)))


def predicted(observed, plan):
    """The key's status and deactivation date after the plan."""
    key = observed.get("key")
    status = key["status"] if key else None
    since = observed.get("inactive_since")
    for change in plan:
        if change.operation == "UpdateAccessKey":
            status = change.after
        elif change.operation == "DeleteAccessKey":
            status = None
        elif change.operation == "TagUser":
            since = change.after
        elif change.operation == "UntagUser":
            since = None
    return {"status": status, "inactive_since": since}
