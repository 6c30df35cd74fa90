# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""iam_access_key's engine: validate -> observe -> plan (retire_plan.py) -> apply -> report. Private to the
collection.

    validate(params) -> [error]                 pure; bad input fails before any AWS call
    parse_since(text) -> aware datetime or None
    observe(ctx, params, now) -> observed       ListAccessKeys (+ GetAccessKeyLastUsed of the key), ListUserTags, and
                                                with a CloudTrail source the key's events since `since` (trail.py)
    converge(module, progress, now=None) -> the module's result

The output names the key by its masked id only; no call here returns a secret (see keys.py). AWS facts: keys.py,
retire_plan.py, trail.py.
"""

from __future__ import annotations

import datetime

from ansible_collections.keyless.aws.plugins.module_utils.accesskeys import keys as keyreads
from ansible_collections.keyless.aws.plugins.module_utils.accesskeys.retire_plan import plan_key, predicted
from ansible_collections.keyless.aws.plugins.module_utils.accesskeys.trail import key_events, validate_trail
from ansible_collections.keyless.aws.plugins.module_utils.accesskeys.usage import AddressIndex, attribute, observe_fleet
from ansible_collections.keyless.aws.plugins.module_utils.activity.cloudtrail import LOOKUP_MAX_DAYS
from ansible_collections.keyless.aws.plugins.module_utils.aws import rules
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import PlanError
from ansible_collections.keyless.aws.plugins.module_utils.aws.module import context
from ansible_collections.keyless.aws.plugins.module_utils.aws.plan import apply_plan, diff
from ansible_collections.keyless.aws.plugins.module_utils.fleet.selection import validate_selector

UTC = datetime.timezone.utc
SELECTOR_OPTIONS = ("instance_ids", "filters", "tags", "all_instances")
MAX_DAYS = 3650


def parse_since(text):
    if not isinstance(text, str) or not text.strip():
        return None
    value = text.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def validate(params, now=None):
    now = now or datetime.datetime.now(UTC)
    errors = []
    if not rules.is_user_name(params.get("user")):
        errors.append("user=%r is not an IAM user name: 1 to 64 letters, digits and + = , . @ _ -" % (params.get("user"),))
    given = params.get("access_key_id")
    if not (rules.is_access_key_id(given) or rules.is_masked_access_key_id(given)):
        # a value this long may be a secret access key given by mistake (40 characters): never echo it
        shown = given if not isinstance(given, str) or len(given) <= 24 else "<%d characters, not shown>" % len(given)
        errors.append("access_key_id=%r is not an access key id: give the full id (AKIA and 16 upper-case letters or "
                      "digits) or the masked id the info module reports (AKIA...WXYZ)" % (shown,))
    elif given.startswith("ASIA"):
        errors.append("access_key_id=%s is a temporary (STS) key: it expires by itself and IAM cannot deactivate it; "
                      "give a user's long-term key (AKIA...)" % keyreads.mask(given))
    for option in ("quiet_days", "inactive_days"):
        value = params.get(option)
        if value is None or not 0 <= value <= MAX_DAYS:
            errors.append("%s=%r is out of range: use 0 to %d days" % (option, value, MAX_DAYS))
    state = params.get("state")
    if params.get("force") and state != "absent":
        errors.append("force=true only skips the inactive_days check of state=absent (state is %s)" % state)
    since = params.get("since")
    if since is not None:
        parsed = parse_since(since)
        if parsed is None:
            errors.append("since=%r is not a time: use ISO 8601, e.g. 2026-11-01T00:00:00Z" % (since,))
        elif parsed > now:
            errors.append("since=%r is in the future" % (since,))
        elif params.get("source") == "lookup_events" and (now - parsed).days >= LOOKUP_MAX_DAYS:
            errors.append("since=%r is more than %d days ago: LookupEvents keeps %d days; use source=s3 or local"
                          % (since, LOOKUP_MAX_DAYS, LOOKUP_MAX_DAYS))
        if params.get("source") is None:
            errors.append("since=%r needs a CloudTrail source (source=lookup_events, s3 or local) to check the key's "
                          "calls since then" % (since,))
    if params.get("source") is not None and state != "inactive":
        errors.append("source=%s checks a key's calls before it is deactivated: it is only used with state=inactive "
                      "(state is %s)" % (params["source"], state))
    errors.extend(validate_trail(params, days_option=False))
    selected = [o for o in SELECTOR_OPTIONS if params.get(o)]
    if selected:
        if params.get("source") is None:
            errors.append("%s name the instances a refusal names as the caller: they need a CloudTrail source"
                          % ", ".join(selected))
        else:
            errors.extend(validate_selector(params))
    return errors


def observe(ctx, params, now):
    iam = ctx.client("iam")
    user = params["user"]
    keys = keyreads.read_user_keys(iam, user, now)
    if keys is None:
        raise PlanError("user=%r: there is no IAM user %s in this account" % (user, user))
    key = keyreads.resolve_key(params["access_key_id"], keys, user)
    observed = {"key": key, "inactive_since": None, "trail": None, "other_keys": len(keys) - (1 if key else 0)}
    if key is None:
        if rules.is_masked_access_key_id(params["access_key_id"]) and params["state"] != "absent":
            raise PlanError("access_key_id=%s matches none of user %s's keys (%s)" % (
                params["access_key_id"], user, ", ".join(k["masked_id"] for k in keys) or "the user has none"))
        return observed
    user_tags = keyreads.user_tags(iam, user)
    observed["inactive_since"] = user_tags.get(keyreads.inactive_tag_key(key["masked_id"]))
    observed["user_tag_count"] = len(user_tags)
    if params.get("source") and params["state"] == "inactive" and key["status"] == "Active":
        since = parse_since(params.get("since")) or now - datetime.timedelta(days=max(params["quiet_days"], 1))
        collected = key_events(ctx.client, params, ctx.account_id, [key["access_key_id"]], since, now, ctx.region)
        usage = attribute(collected.events, _index(ctx, params)).get(key["access_key_id"])
        observed["trail"] = {"since": since, "calls": len(collected.events),
                             "last_event": usage.last_event if usage else None,
                             "events_read": collected.read, "truncated": collected.truncated}
    return observed


def _index(ctx, params):
    if not any(params.get(o) for o in SELECTOR_OPTIONS):
        return AddressIndex({})
    instances, _calls = observe_fleet(ctx.client("ec2"), params)
    return AddressIndex(instances)


def _key_view(observed, status=None, inactive_since=None):
    key = observed.get("key")
    if key is None:
        return None
    out = keyreads.public_key(key)
    out["status"] = status
    out["inactive_since"] = inactive_since
    return out


def converge(module, progress, now=None):
    now = now or datetime.datetime.now(UTC).replace(microsecond=0)
    params = module.params
    ctx = context(module, validate(params, now), require_region=params.get("source") == "lookup_events" and not params.get("regions"))
    observed = observe(ctx, params, now)
    plan = plan_key(params, observed, now)
    if plan.changed and not module.check_mode:
        apply_plan(ctx.client, plan, progress)
    key = observed.get("key")
    before = {"status": key["status"] if key else None, "inactive_since": observed.get("inactive_since")}
    after = predicted(observed, plan)
    result = {"changed": plan.changed, "changes": plan.as_list(), "diff": diff(before, after),
              "key": _key_view(observed, after["status"], after["inactive_since"]),
              "user": params["user"]}
    trail = observed.get("trail")
    if trail is not None:
        result["activity"] = {"since": keyreads.iso(trail["since"]), "calls": trail["calls"],
                              "events_read": trail["events_read"], "truncated": trail["truncated"]}
    return result
