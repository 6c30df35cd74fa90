# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IAM users' access keys as the modules report them: read, masked, aged. Private to the collection.

    mask(access_key_id) -> "AKIA...WXYZ"                        the only form of an id that leaves the package
    resolve_key(given, keys, user) -> key record                a full or masked id -> one key of the user
    key_record(meta, last_used, now) -> dict                     pure: one key from ListAccessKeys + GetAccessKeyLastUsed
    public_key(record) -> dict                                   the record without its full id
    list_user_names(iam) -> [name]                               ListUsers, paginated
    list_access_keys(iam, user) -> [AccessKeyMetadata] or None   ListAccessKeys page by page; None: no such user
    read_user_keys(iam, user, now) -> [key record] or None       ListAccessKeys (+ GetAccessKeyLastUsed per key); None
                                                                  when the user does not exist
    user_tags(iam, user) -> {key: value}                         ListUserTags, paginated
    inactive_tag_key(masked) -> "keyless:key-inactive:AKIA...WXYZ"

AWS facts relied on (IAM API reference):
- ListAccessKeys(UserName) returns AccessKeyMetadata [{UserName, AccessKeyId, Status (Active|Inactive), CreateDate}],
  paginated (Marker/IsTruncated); "the operation does not return the secret access key" - no call here can return
  one (the secret is only in CreateAccessKey's answer, which nothing in the collection calls).
  A user that does not exist: NoSuchEntity.
- GetAccessKeyLastUsed(AccessKeyId) -> {UserName, AccessKeyLastUsed: {LastUsedDate, ServiceName, Region}}:
  LastUsedDate is null, ServiceName and Region "N/A" when the key "has not been used since IAM began tracking this
  information" (April 22, 2015). It says when and where a key was last used, not from which address.
- ListUsers: every IAM user of the account, paginated. ListUserTags(UserName): the user's tags, paginated.
- IAM has no "deactivated at" date for a key: iam_access_key records it as a tag of the user (TagUser), key
  "keyless:key-inactive:<masked id>" (33 characters of the allowed [letters digits space _ . : / = + - @], keys
  at most 128) and the ISO 8601 UTC time as value (at most 256); a user holds at most 50 tags.
- Access key ids: AKIA + 16 (a user's long-term key), ASIA + 16 (STS temporary credentials): aws/rules.py.
"""

from __future__ import annotations

import datetime

from ansible_collections.keyless.aws.plugins.module_utils.aws import rules
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import PlanError
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import NOT_FOUND, call, paginate

UTC = datetime.timezone.utc
INACTIVE_TAG_PREFIX = "keyless:key-inactive:"
NOT_AVAILABLE = "N/A"


def mask(access_key_id):
    """The first 4 and last 4 characters of an access key id around "...": what every output shows."""
    text = str(access_key_id or "")
    if len(text) < 12:
        return "****"
    return "%s...%s" % (text[:4], text[-4:])


def inactive_tag_key(masked):
    return INACTIVE_TAG_PREFIX + masked


def as_utc(value):
    """A datetime (botocore's answers) or an ISO 8601 text -> an aware UTC datetime, or None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime.datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value):
    value = as_utc(value)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def days_between(earlier, later):
    """Whole days from `earlier` to `later` (None when earlier is unknown)."""
    earlier, later = as_utc(earlier), as_utc(later)
    if earlier is None or later is None:
        return None
    return max(0, (later - earlier).days)


def key_record(meta, last_used, now):
    """Pure: one key from its ListAccessKeys metadata and its GetAccessKeyLastUsed answer (or None).

    The full id is kept under "access_key_id" for the calls of this run; public_key() drops it."""
    used = (last_used or {}).get("AccessKeyLastUsed") or {}
    service = used.get("ServiceName")
    region = used.get("Region")
    created = as_utc(meta.get("CreateDate"))
    return {
        "user": meta.get("UserName"),
        "access_key_id": meta["AccessKeyId"],
        "masked_id": mask(meta["AccessKeyId"]),
        "long_term": str(meta["AccessKeyId"]).startswith("AKIA"),
        "status": meta.get("Status"),
        "created": iso(created),
        "age_days": days_between(created, now),
        "last_used": {
            "date": iso(used.get("LastUsedDate")),
            "service": None if service in (None, NOT_AVAILABLE) else service,
            "region": None if region in (None, NOT_AVAILABLE) else region,
            "days_ago": days_between(used.get("LastUsedDate"), now),
        },
    }


def public_key(record):
    """The record as a module returns it: the id masked, nothing else of the id."""
    out = {k: v for k, v in record.items() if k not in ("access_key_id", "masked_id")}
    out["access_key_id"] = record["masked_id"]
    return out


def resolve_key(given, keys, user):
    """The one key of `keys` (the user's records) that `given` names: the full id, or the masked id matched
    uniquely. None when a full id matches nothing (it may be deleted already); PlanError for a masked id that
    matches none or several."""
    if rules.is_access_key_id(given):
        return next((k for k in keys if k["access_key_id"] == given), None)
    found = [k for k in keys if k["masked_id"] == given]
    if len(found) == 1:
        return found[0]
    if not found:
        return None
    raise PlanError("access_key_id=%r matches %d keys of user %s (%s): give the full access key id"
                    % (given, len(found), user, ", ".join(k["status"] for k in found)))


# ---- reads -----------------------------------------------------------------------------------------

def list_user_names(iam):
    return sorted(u["UserName"] for u in paginate(iam, "ListUsers", "Users"))


def list_access_keys(iam, user):
    """ListAccessKeys of the user, page by page (Marker), or None when the user does not exist (NoSuchEntity)."""
    params = {"UserName": user}
    metas = []
    while True:
        page = call(iam, "ListAccessKeys", params, resource=user, missing=NOT_FOUND)
        if page is None:
            return None
        metas.extend(page.get("AccessKeyMetadata") or ())
        if not page.get("IsTruncated") or not page.get("Marker"):
            return metas
        params = {"UserName": user, "Marker": page["Marker"]}


def read_user_keys(iam, user, now):
    """The user's keys as key records (sorted by creation), or None when the user does not exist."""
    metas = list_access_keys(iam, user)
    if metas is None:
        return None
    records = []
    for meta in metas:
        answer = call(iam, "GetAccessKeyLastUsed", {"AccessKeyId": meta["AccessKeyId"]}, resource=mask(meta["AccessKeyId"]))
        records.append(key_record(meta, answer, now))
    return sorted(records, key=lambda k: (k["created"] or "", k["masked_id"]))


def user_tags(iam, user):
    return {t["Key"]: t["Value"] for t in paginate(iam, "ListUserTags", "Tags", {"UserName": user}, resource=user)}
