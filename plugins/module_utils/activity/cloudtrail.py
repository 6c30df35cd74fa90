# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Collect a role's CloudTrail events: LookupEvents (paced) or delivered log files (S3 or a directory).

Whose events are kept: a role's (role_arn: the session issuer or the assumed-role ARN is the role), or any
principal's, with `match` (a predicate on the record) and the `account` whose log layout to read (the access keys
of IAM users: accesskeys/usage.py matches userIdentity.accessKeyId).

LookupEvents is limited to about 2 calls per second per account and region, so every page waits
for a small pacer first and botocore's configured retries handle whatever throttling remains.
Log files are read in the layout CloudTrail delivers them:
``<prefix>/AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz``; only the day
prefixes of the window are listed, never the whole bucket.

Private to the collection: no stable API.
"""

from __future__ import annotations

import datetime
import gzip
import json
import os
import threading

from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import parse_arn
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import PlanError
from ansible_collections.keyless.aws.plugins.module_utils.aws.parallel import parallel_map
from ansible_collections.keyless.aws.plugins.module_utils.aws.rate_limit import TokenBucket

LOOKUP_EVENTS_RATE = 2.0  # calls per second per account and region (AWS's published limit)
LOOKUP_MAX_DAYS = 90      # LookupEvents only holds the last 90 days
LOG_FILE_SUFFIXES = (".json.gz", ".json")
DOWNLOAD_WORKERS = 8
LOOKUP_REGIONS_AT_ONCE = 4
_UTC = datetime.timezone.utc


class TrailError(PlanError):
    """Log files or events that cannot be read; the message says where."""


# ---------------------------------------------------------------- the role an event belongs to

def role_key(role_arn):
    """(partition, account, lower-case role name) of a role ARN; assumed-role ARNs give the same key."""
    parsed = parse_arn(role_arn)
    if parsed is None:
        return None
    if parsed["service"] == "iam" and parsed["resource_type"] == "role":
        return parsed["partition"], parsed["account_id"], parsed["name"].lower()
    if parsed["service"] == "sts" and parsed["resource_type"] == "assumed-role":
        # assumed-role/<role name>/<session name>: the role's path is not part of it
        name = parsed["resource_id"].split("/")[0]
        return parsed["partition"], parsed["account_id"], name.lower()
    return None


def event_role_arns(event):
    """The role ARNs an event names as its caller: session issuer, then the assumed-role ARN."""
    identity = event.get("userIdentity") or {}
    issuer = ((identity.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn")
    return [arn for arn in (issuer, identity.get("arn")) if arn]


def event_matches_role(event, key):
    """True when the event was made with a session of the role whose role_key() is `key`."""
    return any(role_key(arn) == key for arn in event_role_arns(event))


# ---------------------------------------------------------------- time window

def utcnow():
    return datetime.datetime.now(_UTC)


def window(days, now=None):
    """(start, end) datetimes in UTC for the last `days` days ending at `now`."""
    end = now or utcnow()
    if end.tzinfo is None:
        end = end.replace(tzinfo=_UTC)
    return end - datetime.timedelta(days=days), end


def day_prefixes(start, end):
    """The YYYY/MM/DD/ folders that can hold events of [start, end], newest first.

    CloudTrail files a log under the UTC day it was delivered, up to ~15 minutes after the event,
    so an `end` just before midnight also reads the next day's folder.
    """
    day = start.astimezone(_UTC).date()
    last = (end.astimezone(_UTC) + datetime.timedelta(minutes=30)).date()
    out = []
    while day <= last:
        out.append(day.strftime("%Y/%m/%d/"))
        day += datetime.timedelta(days=1)
    return out[::-1]


def event_time(event):
    """The eventTime of a record as an aware datetime, or None when missing or malformed."""
    value = event.get("eventTime")
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=_UTC)
    if not isinstance(value, str):
        return None
    text = value.replace("Z", "+00:00")
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=_UTC)


# ---------------------------------------------------------------- pacing

def lookup_bucket():
    """AWS's LookupEvents limit (2 calls a second per account and region) as a client-side token bucket."""
    return TokenBucket(1, LOOKUP_EVENTS_RATE)


# ---------------------------------------------------------------- the collection result

class Collected:
    """Events kept for the role (or those `match` keeps) plus what was read to find them."""

    def __init__(self, key, start, end, max_events, match=None):
        self.key = key
        self.match = match or (lambda event: event_matches_role(event, key))
        self.start = start
        self.end = end
        self.max_events = max_events
        self.events = []
        self.read = 0
        self.files = 0
        self.api_calls = 0
        self.truncated = False
        self.regions = []
        self._seen = set()
        self._lock = threading.Lock()

    @property
    def full(self):
        return self.max_events is not None and self.read >= self.max_events

    def count_call(self):
        with self._lock:
            self.api_calls += 1

    def offer(self, records):
        """Count `records` as read and keep those of the role inside the window (deduplicated by eventID)."""
        with self._lock:
            for event in records:
                if self.full:
                    self.truncated = True
                    return
                self.read += 1
                if not isinstance(event, dict) or not self.match(event):
                    continue
                when = event_time(event)
                if when is None or not self.start <= when <= self.end:
                    continue
                event_id = event.get("eventID")
                if event_id:
                    if event_id in self._seen:
                        continue
                    self._seen.add(event_id)
                self.events.append(event)


# ---------------------------------------------------------------- LookupEvents

def lookup_events(client, collected, pacer, region=None, attribute=None):
    """Read the management events of the window through the LookupEvents paginator, one page per pacer slot:
    every event (LookupEvents cannot filter by role, so each page is filtered here), or with `attribute` only those
    it names ({"AttributeKey": "AccessKeyId", "AttributeValue": ...}: one LookupAttribute a call, as the API takes)."""
    paginator = client.get_paginator("lookup_events")
    kwargs = {"StartTime": collected.start, "EndTime": collected.end, "PaginationConfig": {"PageSize": 50}}
    if attribute:
        kwargs["LookupAttributes"] = [attribute]
    pages = iter(paginator.paginate(**kwargs))
    while True:
        pacer.acquire()  # the page request is made inside next()
        try:
            page = next(pages)
        except StopIteration:
            return
        collected.count_call()
        collected.offer(_lookup_records(page.get("Events") or [], region))
        if not page.get("NextToken"):
            return  # the last page: no pacer slot is spent on the paginator's StopIteration
        if collected.full:
            collected.truncated = True
            return


def _lookup_records(events, region):
    for item in events:
        text = item.get("CloudTrailEvent")
        try:
            record = json.loads(text) if text else None
        except ValueError:
            record = None
        if not isinstance(record, dict):
            # Without the full record the caller cannot be checked; keep what the summary says.
            when = item.get("EventTime")
            if isinstance(when, datetime.datetime):
                when = when.astimezone(_UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            record = {"eventName": item.get("EventName"), "eventSource": item.get("EventSource"),
                      "eventTime": when, "eventID": item.get("EventId"), "awsRegion": region}
        yield record


# ---------------------------------------------------------------- log files

def parse_log_bytes(data, name):
    """A delivered log file's bytes (gzip or plain JSON) -> its Records list."""
    try:
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        doc = json.loads(data.decode("utf-8"))
    except (OSError, EOFError, ValueError, UnicodeDecodeError) as exc:
        raise TrailError("%s is not a CloudTrail log file (gzip JSON with Records): %s" % (name, exc))
    records = doc.get("Records") if isinstance(doc, dict) else None
    if not isinstance(records, list):
        raise TrailError("%s has no Records list: is it a CloudTrail log file?" % name)
    return records


def trail_root(prefix, account, organization_id=None):
    """The key prefix of one account's CloudTrail folder: [<prefix>/]AWSLogs/[<org>/]<account>/CloudTrail/."""
    prefix = (prefix or "").strip("/")
    if prefix and not (prefix == "AWSLogs" or prefix.endswith("/AWSLogs")):
        prefix += "/AWSLogs"
    elif not prefix:
        prefix = "AWSLogs"
    parts = [prefix] + ([organization_id] if organization_id else []) + [account, "CloudTrail"]
    return "/".join(parts) + "/"


def s3_regions(client, bucket, root):
    """The region folders present under root (one delimited listing)."""
    regions = []
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=root, Delimiter="/"):
        for common in page.get("CommonPrefixes") or []:
            regions.append(common["Prefix"][len(root):].strip("/"))
    return sorted(r for r in regions if r)


def s3_log_keys(client, bucket, root, region, start, end):
    """Log object keys of one region for the days of the window (ListObjectsV2 per day prefix)."""
    keys = []
    paginator = client.get_paginator("list_objects_v2")
    for day in day_prefixes(start, end):
        prefix = "%s%s/%s" % (root, region, day)
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents") or [] if obj["Key"].endswith(LOG_FILE_SUFFIXES))
    return keys


def read_s3_logs(client, bucket, keys, collected):
    """Download and parse `keys` in parallel, stopping once max_events records were read."""
    def fetch(key):
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return parse_log_bytes(body, "s3://%s/%s" % (bucket, key))

    _read_parallel(keys, fetch, collected)


def _read_parallel(items, fetch, collected):
    for start in range(0, len(items), DOWNLOAD_WORKERS * 2):
        if collected.full:
            collected.truncated = True
            return
        for records in parallel_map(fetch, items[start:start + DOWNLOAD_WORKERS * 2], DOWNLOAD_WORKERS):
            collected.files += 1
            collected.offer(records)


def local_layout_root(path, account, organization_id=None):
    """The account's CloudTrail folder under `path` if the directory holds the delivered layout."""
    for prefix in ("", "AWSLogs"):
        root = os.path.join(path, *filter(None, trail_root(prefix, account, organization_id).split("/")))
        if os.path.isdir(root):
            return root
    if os.path.basename(os.path.normpath(path)) == "CloudTrail":
        return path
    return None


def local_log_files(path, account, regions, start, end, organization_id=None):
    """(files, regions): log files of the window under `path`.

    With the delivered layout only the window's day folders are read; any other directory is walked
    whole (the time and role filters still apply per event)."""
    root = local_layout_root(path, account, organization_id)
    if root is None:
        files = []
        for dirpath, _dirs, names in os.walk(path):
            files.extend(os.path.join(dirpath, n) for n in names if n.endswith(LOG_FILE_SUFFIXES))
        return sorted(files), list(regions or [])
    found = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    use = list(regions) if regions else found
    files = []
    for region in use:
        for day in day_prefixes(start, end):
            folder = os.path.join(root, region, *day.strip("/").split("/"))
            if os.path.isdir(folder):
                files.extend(os.path.join(folder, n) for n in sorted(os.listdir(folder))
                             if n.endswith(LOG_FILE_SUFFIXES))
    return files, use


def read_local_logs(files, collected):
    def fetch(name):
        with open(name, "rb") as handle:
            return parse_log_bytes(handle.read(), name)

    _read_parallel(files, fetch, collected)


# ---------------------------------------------------------------- one entry point

def collect_events(client_for, source, role_arn, start, end, regions=None, s3_bucket=None, s3_prefix=None,
                   local_path=None, max_events=None, organization_id=None, pacer_factory=lookup_bucket,
                   match=None, account=None, lookup_attributes=None):
    """The role's events of [start, end] from `source` (lookup_events | s3 | local) -> Collected.

    client_for(service, region) returns a boto3 client; regions default to every region found in
    the log layout (s3, local) and must be given for lookup_events. With `match` (and `account`, whose log
    layout is read) role_arn is None and the events `match` keeps are collected instead of a role's.
    lookup_attributes (lookup_events only): LookupAttribute dicts read one by one instead of the whole window.
    """
    if match is not None:
        key = None
        if not account:
            raise TrailError("collecting events by a predicate needs the account whose trail to read")
    else:
        key = role_key(role_arn)
        if key is None:
            raise TrailError("%r is not a role ARN" % role_arn)
        account = key[1]
    collected = Collected(key, start, end, max_events, match)
    if source == "lookup_events":
        collected.regions = list(regions)
        # Each region has its own LookupEvents bucket: read them side by side, each with its pacer (clients and
        # pacers made here, in the caller's thread).
        # lookup_attributes: one read per attribute (an access key id...) instead of every event of the window;
        # the readers of one region share its pacer (the limit is the account's, per region)
        readers = []
        for r in collected.regions:
            client, pacer = client_for("cloudtrail", r), pacer_factory()
            readers.extend((client, pacer, r, attribute) for attribute in (lookup_attributes or [None]))
        parallel_map(lambda reader: lookup_events(reader[0], collected, reader[1], reader[2], reader[3]), readers,
                     LOOKUP_REGIONS_AT_ONCE)
    elif source == "s3":
        client = client_for("s3", None)
        root = trail_root(s3_prefix, account, organization_id)
        collected.regions = list(regions) if regions else s3_regions(client, s3_bucket, root)
        keys = []
        for region in collected.regions:
            keys.extend(s3_log_keys(client, s3_bucket, root, region, start, end))
        # newest day first across regions, so max_events keeps the most recent activity
        keys.sort(key=lambda k: k[len(root):].split("/", 1)[-1], reverse=True)
        read_s3_logs(client, s3_bucket, keys, collected)
    elif source == "local":
        if not os.path.isdir(local_path):
            raise TrailError("local_path=%r is not a directory" % local_path)
        files, collected.regions = local_log_files(local_path, account, regions, start, end, organization_id)
        read_local_logs(files, collected)
    else:
        raise TrailError("unknown source %r" % source)
    if regions:
        wanted = set(regions)
        collected.events = [e for e in collected.events if e.get("awsRegion") in wanted or not e.get("awsRegion")]
    collected.events.sort(key=lambda e: e.get("eventTime") or "")
    return collected
