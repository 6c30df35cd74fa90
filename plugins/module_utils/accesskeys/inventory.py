# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""iam_access_key_info's engine: every user's keys, and optionally which instance of the fleet uses which key.
Private to the collection.

    validate(params) -> [error]                         pure
    report(users, records, usage, instances, now) -> dict   pure: the module's result (ids masked)
    inventory(ctx, params, now) -> dict                 the reads, then report()

Reads: ListUsers (unless user_names), per user ListAccessKeys, per key GetAccessKeyLastUsed; with activity,
DescribeInstances (the selector, fleet/selection.py), the CloudTrail events of the keys (trail.py: LookupEvents or
log files) and DescribeVpcEndpoints for the endpoints those events name. Read-only: no call changes anything.
See keys.py and usage.py for the AWS facts relied on.
"""

from __future__ import annotations

from ansible_collections.keyless.aws.plugins.module_utils.accesskeys import keys as keyreads
from ansible_collections.keyless.aws.plugins.module_utils.accesskeys.trail import key_events, validate_trail
from ansible_collections.keyless.aws.plugins.module_utils.accesskeys.usage import (
    AddressIndex,
    attribute,
    endpoint_ids,
    endpoint_vpcs,
    observe_fleet,
)
from ansible_collections.keyless.aws.plugins.module_utils.activity.cloudtrail import window
from ansible_collections.keyless.aws.plugins.module_utils.aws import rules
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import PlanError
from ansible_collections.keyless.aws.plugins.module_utils.fleet.selection import validate_selector

SELECTOR_OPTIONS = ("instance_ids", "filters", "tags", "all_instances")


def validate(params):
    errors = []
    for name in params.get("user_names") or []:
        if not rules.is_user_name(name):
            errors.append("user_names: %r is not an IAM user name: 1 to 64 letters, digits and + = , . @ _ -" % (name,))
    if params.get("activity"):
        errors.extend(validate_selector(params))
        errors.extend(validate_trail(params))
    else:
        given = [o for o in SELECTOR_OPTIONS if params.get(o)]
        if given:
            errors.append("%s select the instances whose addresses activity=true looks for in CloudTrail: set "
                          "activity=true, or drop them" % ", ".join(given))
    return errors


def report(users, records, usage, instances, now, missing_users=()):
    """Pure: the result. records: key records; usage: {full id: Usage} or None (no activity read)."""
    by_instance = {}
    keys_out = []
    for record in records:
        out = keyreads.public_key(record)
        if usage is not None:
            used = usage.get(record["access_key_id"])
            out["used_from"] = used.used_from() if used else []
            out["outside_fleet"] = used.outside_summary() if used else {"calls": 0, "addresses": []}
            for entry in out["used_from"]:
                by_instance.setdefault(entry["instance_id"], []).append(record["masked_id"])
        keys_out.append(out)
    users_out = []
    for user in users:
        mine = [r for r in records if r["user"] == user]
        users_out.append({"user_name": user, "keys": [r["masked_id"] for r in mine],
                          "active_keys": sum(1 for r in mine if r["status"] == "Active")})
    counts = {
        "users": len(users),
        "users_with_keys": sum(1 for u in users_out if u["keys"]),
        "keys": len(records),
        "active": sum(1 for r in records if r["status"] == "Active"),
        "inactive": sum(1 for r in records if r["status"] == "Inactive"),
        "never_used": sum(1 for r in records if not r["last_used"]["date"]),
    }
    result = {"users": users_out, "keys": keys_out, "counts": counts, "missing_users": list(missing_users)}
    if usage is not None:
        result["instances"] = [{"instance_id": iid, "keys": sorted(set(by_instance[iid]))} for iid in sorted(by_instance)]
        counts["instances_selected"] = len(instances)
        counts["instances_with_keys"] = len(by_instance)
        counts["keys_used_from_fleet"] = sum(1 for k in keys_out if k["used_from"])
    else:
        result["instances"] = []
    return result


def inventory(ctx, params, now):
    iam = ctx.client("iam")
    wanted = params.get("user_names")
    users = sorted(set(wanted)) if wanted else keyreads.list_user_names(iam)
    records, found, missing = [], [], []
    for user in users:
        keys = keyreads.read_user_keys(iam, user, now)
        if keys is None:
            missing.append(user)
            continue
        found.append(user)
        records.extend(keys)
    if missing and not params.get("ignore_missing"):
        raise PlanError("user_names: no IAM user %s in this account (ignore_missing=true reports them instead)"
                        % ", ".join(missing))
    usage, instances, extra = None, {}, {}
    if params.get("activity"):
        instances, _calls = observe_fleet(ctx.client("ec2"), params)
        start, end = window(params["days"], now)
        long_term = [r["access_key_id"] for r in records if r["long_term"]]
        collected = None
        events = []
        if long_term:
            collected = key_events(ctx.client, params, ctx.account_id, long_term, start, end, ctx.region)
            events = collected.events
        ids = endpoint_ids(events)
        vpcs = endpoint_vpcs(ctx.client("ec2"), ids) if ids else {}
        usage = attribute(events, AddressIndex(instances), vpcs)
        extra = {"window": {"start": start.isoformat(), "end": end.isoformat(), "days": params["days"]},
                 "source": {"type": params["source"], "regions": collected.regions if collected else [],
                            "events_read": collected.read if collected else 0,
                            "files": collected.files if collected else 0,
                            "api_calls": collected.api_calls if collected else 0,
                            "truncated": bool(collected and collected.truncated),
                            "key_events": len(events)}}
    result = report(found, records, usage, instances, now, missing)
    result.update(extra)
    return result
