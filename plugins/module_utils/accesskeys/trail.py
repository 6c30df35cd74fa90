# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CloudTrail source options of the access key modules, and the events of a set of keys. Private to the
collection.

    trail_argument_spec(default_source) -> dict     source, days, s3_bucket, s3_prefix, local_path, organization_id,
                                                    regions, max_events (the options of iam_policy_from_activity)
    validate_trail(params, days_option=True) -> [error]     pure
    key_events(client_for, params, account, key_ids, start, end, default_region) -> Collected
        The calls made with these access keys in [start, end], read with activity/cloudtrail.py (the one reader).

AWS facts relied on: CloudTrail keeps 90 days of event history for LookupEvents (longer only in a trail's log files);
LookupEvents returns management events only and is limited to 2 calls a second per account and region (the reader
paces it); log files are delivered as AWSLogs/[<org id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz.
Calls to IAM and other global services are recorded in us-east-1.
"""

from __future__ import annotations

from ansible_collections.keyless.aws.plugins.module_utils.activity.cloudtrail import LOOKUP_MAX_DAYS, collect_events
from ansible_collections.keyless.aws.plugins.module_utils.accesskeys.usage import key_event
from ansible_collections.keyless.aws.plugins.module_utils.aws import rules

SOURCES = ("lookup_events", "s3", "local")
LOG_MAX_DAYS = 3650


def trail_argument_spec(default_source):
    return dict(
        source=dict(type="str", choices=list(SOURCES), default=default_source),
        days=dict(type="int", default=30),
        s3_bucket=dict(type="str"),
        s3_prefix=dict(type="str", default=""),
        local_path=dict(type="path"),
        organization_id=dict(type="str"),
        regions=dict(type="list", elements="str"),
        max_events=dict(type="int", default=100000),
    )


def validate_trail(params, days_option=True):
    """Every problem with the source options, naming option, value and what is allowed."""
    errors = []
    source = params.get("source")
    if source is None:
        for option in ("s3_bucket", "local_path", "organization_id", "regions"):
            if params.get(option):
                errors.append("%s=%r is a CloudTrail source option: set source (lookup_events, s3 or local) too"
                              % (option, params[option]))
        return errors
    limit = LOOKUP_MAX_DAYS if source == "lookup_events" else LOG_MAX_DAYS
    if days_option and not 1 <= (params.get("days") or 0) <= limit:
        errors.append("days=%r is out of range: with source=%s use 1 to %d" % (params.get("days"), source, limit))
    if source == "s3" and not params.get("s3_bucket"):
        errors.append("source=s3 needs s3_bucket: the bucket the trail delivers its log files to")
    if source == "local" and not params.get("local_path"):
        errors.append("source=local needs local_path: a directory of CloudTrail log files")
    if source != "s3" and params.get("s3_bucket"):
        errors.append("s3_bucket=%r is only used with source=s3 (source is %s)" % (params["s3_bucket"], source))
    if source != "local" and params.get("local_path"):
        errors.append("local_path=%r is only used with source=local (source is %s)" % (params["local_path"], source))
    if source == "lookup_events" and params.get("organization_id"):
        errors.append("organization_id is only used with log files (source=s3 or local)")
    if params.get("organization_id") and not rules.is_organization_id(params["organization_id"]):
        errors.append("organization_id=%r is not an organization id: expected o- and 10-32 lower-case letters or digits"
                      % params["organization_id"])
    for region in params.get("regions") or []:
        if not rules.is_region(region):
            errors.append("regions: %r is not a region name such as us-east-1" % region)
    if (params.get("max_events") or 0) < 1:
        errors.append("max_events=%r must be at least 1" % params.get("max_events"))
    return errors


def key_events(client_for, params, account, key_ids, start, end, default_region=None):
    """The events of [start, end] made with any of `key_ids` (userIdentity IAMUser, accessKeyId)."""
    wanted = frozenset(key_ids)
    regions = params.get("regions")
    if params["source"] == "lookup_events" and not regions:
        regions = [default_region]
    return collect_events(client_for, params["source"], None, start, end, regions=regions,
                          s3_bucket=params.get("s3_bucket"), s3_prefix=params.get("s3_prefix"),
                          local_path=params.get("local_path"), max_events=params.get("max_events"),
                          organization_id=params.get("organization_id"),
                          match=lambda event: key_event(event) in wanted, account=account,
                          # LookupEvents filters by access key itself (LookupAttribute AccessKeyId): the keys' events
                          # only, not every management event of the account
                          lookup_attributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": key_id}
                                             for key_id in sorted(wanted)])
