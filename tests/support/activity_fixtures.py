"""Realistic CloudTrail activity for a role, written the way CloudTrail delivers it.

Used by the tests of iam_policy_from_activity and by the demo (to show a suggested policy for the
demo role). Deterministic for a given seed.

API
- ``make_events(role_arn, account, region, days=7, seed=0, now=None, per_day=24, noise=True, names=None)``
  -> list of CloudTrail records (dicts): the role's calls (S3 objects and bucket listing, SQS,
  KMS, Secrets Manager, SSM parameters, CloudWatch Logs/metrics, STS, one AccessDenied S3
  DeleteObject a day, one unmapped ec2-instance-connect call) plus, with ``noise``, calls by
  another role and an IAM user that must be filtered out. ``names`` overrides the resources the
  calls touch (keys of ``DEFAULT_NAMES``: bucket, queue, secret, parameter, log_group, kms_key), e.g.
  ``{"bucket": "my-app-data", "queue": "my-app-queue", "secret": "my-app/db"}`` for the demo role.
- ``write_log_files(target, bucket, account, region, role_arn, days=7, seed=0, prefix="", now=None,
  events=None)`` -> dict(files=[...], events=[...], role_events=[...]): writes gzip JSON
  ``{"Records": [...]}`` files, one per hour with events, at
  ``[<prefix>/]AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<id>.json.gz``
  (``names`` as for make_events).
  ``target`` is a boto3 S3 client (``bucket`` must exist) or a local directory path (``bucket`` ignored).
- ``lookup_pages(events, page_size=50)`` -> LookupEvents responses (newest first, with NextToken)
  for botocore's Stubber.
- ``EXPECTED_ACTIONS``: the IAM actions the role's fixture calls need.
"""

from __future__ import annotations

import datetime
import gzip
import io
import json
import os
import random
import uuid

UTC = datetime.timezone.utc

EXPECTED_ACTIONS = frozenset((
    "s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject", "sqs:ReceiveMessage",
    "sqs:DeleteMessage", "sqs:GetQueueAttributes", "kms:Decrypt", "secretsmanager:GetSecretValue",
    "ssm:GetParameter", "logs:PutLogEvents", "logs:CreateLogStream", "cloudwatch:PutMetricData",
))


def _role_parts(role_arn):
    parts = role_arn.split(":")
    partition, account = parts[1], parts[4]
    name = parts[5].split("/")[-1]
    return partition, account, name


def _assumed_identity(role_arn, session, rng):
    partition, account, name = _role_parts(role_arn)
    role_id = "AROA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _n in range(17))
    return {
        "type": "AssumedRole",
        "principalId": "%s:%s" % (role_id, session),
        "arn": "arn:%s:sts::%s:assumed-role/%s/%s" % (partition, account, name, session),
        "accountId": account,
        "accessKeyId": "ASIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _n in range(16)),
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": role_id, "arn": role_arn,
                              "accountId": account, "userName": name},
            "attributes": {"creationDate": "2026-11-01T00:00:00Z", "mfaAuthenticated": "false"},
            "ec2RoleDelivery": "2.0",
        },
    }


def _user_identity(account):
    return {"type": "IAMUser", "principalId": "AIDAEXAMPLEUSER00001", "arn": "arn:aws:iam::%s:user/alice" % account,
            "accountId": account, "accessKeyId": "AKIAEXAMPLEUSER00001", "userName": "alice"}


def _record(identity, when, source, name, region, account, rng, params=None, resources=None, error=None,
            read_only=True, category="Management"):
    rec = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "10.0.%d.%d" % (rng.randint(0, 255), rng.randint(1, 254)),
        "userAgent": "Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux lang/python#3.11.7",
        "requestParameters": params,
        "responseElements": None,
        "requestID": str(uuid.UUID(int=rng.getrandbits(128))),
        "eventID": str(uuid.UUID(int=rng.getrandbits(128))),
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": category == "Management",
        "recipientAccountId": account,
        "eventCategory": category,
    }
    if resources:
        rec["resources"] = resources
    if error:
        rec["errorCode"], rec["errorMessage"] = error
    return rec


DEFAULT_NAMES = {"bucket": "app-data-{account}", "queue": "app-jobs", "secret": "app/db-password",
                 "parameter": "/app/feature-flags", "log_group": "/app/web",
                 "kms_key": "1234abcd-12ab-34cd-56ef-1234567890ab"}


def _role_calls(account, region, partition, names=None):
    """(source, name, params, resources, error, read_only, category) templates of the app's calls."""
    names = dict(DEFAULT_NAMES, **(names or {}))
    bucket = names["bucket"].format(account=account)
    queue = "https://sqs.%s.amazonaws.com/%s/%s" % (region, account, names["queue"])
    key_arn = "arn:%s:kms:%s:%s:key/%s" % (partition, region, account, names["kms_key"])
    secret, parameter, log_group = names["secret"], names["parameter"], names["log_group"]

    def s3_obj(name, key, error=None, read_only=True):
        return ("s3.amazonaws.com", name, {"bucketName": bucket, "key": key, "Host": "%s.s3.amazonaws.com" % bucket},
                [{"type": "AWS::S3::Object", "ARN": "arn:%s:s3:::%s/%s" % (partition, bucket, key)},
                 {"accountId": account, "type": "AWS::S3::Bucket", "ARN": "arn:%s:s3:::%s" % (partition, bucket)}],
                error, read_only, "Data")

    return [
        lambda d, i: s3_obj("GetObject", "config/app.json"),
        lambda d, i: s3_obj("HeadObject", "reports/%s/summary-%02d.csv" % (d.strftime("%Y/%m"), i % 5)),
        lambda d, i: s3_obj("PutObject", "reports/%s/summary-%02d.csv" % (d.strftime("%Y/%m"), i % 5), read_only=False),
        lambda d, i: ("s3.amazonaws.com", "ListObjectsV2",
                      {"bucketName": bucket, "list-type": "2", "prefix": "reports/", "Host": "%s.s3.amazonaws.com" % bucket},
                      [{"accountId": account, "type": "AWS::S3::Bucket", "ARN": "arn:%s:s3:::%s" % (partition, bucket)}],
                      None, True, "Data"),
        lambda d, i: ("sqs.amazonaws.com", "ReceiveMessage", {"queueUrl": queue, "maxNumberOfMessages": 10}, None, None,
                      True, "Data"),
        lambda d, i: ("sqs.amazonaws.com", "DeleteMessage", {"queueUrl": queue, "receiptHandle": "HIDDEN"}, None, None,
                      False, "Data"),
        lambda d, i: ("sqs.amazonaws.com", "GetQueueAttributes", {"queueUrl": queue, "attributeNames": ["All"]},
                      None, None, True, "Management"),
        lambda d, i: ("kms.amazonaws.com", "Decrypt", {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
                      [{"accountId": account, "type": "AWS::KMS::Key", "ARN": key_arn}], None, True, "Management"),
        lambda d, i: ("secretsmanager.amazonaws.com", "GetSecretValue", {"secretId": secret}, None, None,
                      True, "Management"),
        lambda d, i: ("ssm.amazonaws.com", "GetParameter", {"name": parameter, "withDecryption": False},
                      None, None, True, "Management"),
        lambda d, i: ("logs.amazonaws.com", "CreateLogStream",
                      {"logGroupName": log_group, "logStreamName": "i-0abc%04d" % i}, None, None, False, "Management"),
        lambda d, i: ("logs.amazonaws.com", "PutLogEvents", {"logGroupName": log_group, "logStreamName": "i-0abc%04d" % i},
                      None, None, False, "Data"),
        lambda d, i: ("monitoring.amazonaws.com", "PutMetricData", {"namespace": "App"}, None, None, False, "Management"),
        lambda d, i: ("sts.amazonaws.com", "GetCallerIdentity", None, None, None, True, "Management"),
    ]


def make_events(role_arn, account, region, days=7, seed=0, now=None, per_day=24, noise=True, names=None):
    """The fixture records of `days` days ending at `now`, oldest first (names: see DEFAULT_NAMES)."""
    rng = random.Random(seed)
    now = now or datetime.datetime.now(UTC).replace(microsecond=0)
    partition = _role_parts(role_arn)[0]
    calls = _role_calls(account, region, partition, names)
    other_role = "arn:%s:iam::%s:role/other-app" % (partition, account)
    sessions = ["i-0%016x" % rng.getrandbits(64) for _n in range(3)]
    records = []
    for day in range(days):
        base = now - datetime.timedelta(days=day, hours=1)
        for i in range(per_day):
            when = base - datetime.timedelta(minutes=rng.randint(0, 60 * 22))
            source, name, params, resources, error, read_only, category = calls[i % len(calls)](when, i)
            identity = _assumed_identity(role_arn, rng.choice(sessions), rng)
            records.append(_record(identity, when, source, name, region, account, rng, params, resources,
                                   error, read_only, category))
        # once a day the app tries to delete an object it may not delete
        when = base - datetime.timedelta(minutes=7)
        source, name, params, resources, _e, _r, category = calls[0](when, 0)
        params = dict(params, key="tmp/old-export.csv")
        resources = [{"type": "AWS::S3::Object", "ARN": "arn:%s:s3:::%s/tmp/old-export.csv" % (partition, params["bucketName"])},
                     resources[1]]
        records.append(_record(_assumed_identity(role_arn, sessions[0], rng), when, source, "DeleteObject", region,
                               account, rng, params, resources, ("AccessDenied", "Access Denied"), False, category))
        records.append(_record(_assumed_identity(role_arn, sessions[1], rng), base - datetime.timedelta(minutes=9),
                               "ec2-instance-connect.amazonaws.com", "SendSSHPublicKey",
                               region, account, rng, {"instanceId": "i-0abc", "instanceOSUser": "ec2-user"},
                               None, None, False, "Management"))
        if noise:
            records.append(_record(_assumed_identity(other_role, "i-0feedface", rng), base, "dynamodb.amazonaws.com",
                                   "GetItem", region, account, rng, {"tableName": "other"}, None, None, True, "Data"))
            records.append(_record(_user_identity(account), base, "iam.amazonaws.com", "ListRoles", region, account,
                                   rng, None, None, None, True, "Management"))
    records.sort(key=lambda r: r["eventTime"])
    return records


def role_events(events, role_arn):
    """The records of `events` made by `role_arn` (what the module should keep)."""
    return [e for e in events if ((e["userIdentity"].get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn")
            == role_arn]


def _file_name(account, region, hour, rng):
    unique = "".join(rng.choice("0123456789abcdefABCDEF") for _n in range(16))
    return "%s_CloudTrail_%s_%s_%s.json.gz" % (account, region, hour.strftime("%Y%m%dT%H%MZ"), unique)


def write_log_files(target, bucket, account, region, role_arn, days=7, seed=0, prefix="", now=None, events=None,
                    names=None):
    """Write the fixture events (or `events`) as delivered log files to S3 or a directory."""
    rng = random.Random(seed + 1)
    if events is None:
        events = make_events(role_arn, account, region, days=days, seed=seed, now=now, names=names)
    by_hour = {}
    for rec in events:
        when = datetime.datetime.strptime(rec["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        # delivered within the quarter hour after the event
        delivered = (when + datetime.timedelta(minutes=5)).replace(minute=0, second=0)
        by_hour.setdefault(delivered, []).append(rec)
    files = []
    root = "/".join(p for p in (prefix.strip("/"), "AWSLogs", account, "CloudTrail", region) if p)
    for hour, recs in sorted(by_hour.items()):
        key = "%s/%s/%s" % (root, hour.strftime("%Y/%m/%d"), _file_name(account, region, hour, rng))
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb") as gz:
            gz.write(json.dumps({"Records": recs}).encode("utf-8"))
        data = buf.getvalue()
        if isinstance(target, (str, os.PathLike)):
            path = os.path.join(os.fspath(target), *key.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(data)
            files.append(path)
        else:
            target.put_object(Bucket=bucket, Key=key, Body=data)
            files.append(key)
    return {"files": files, "events": events, "role_events": role_events(events, role_arn)}


def lookup_pages(events, page_size=50):
    """LookupEvents responses for `events`, newest first as the API answers, chained by NextToken."""
    newest = sorted(events, key=lambda r: r["eventTime"], reverse=True)
    pages = []
    for start in range(0, max(len(newest), 1), page_size):
        chunk = newest[start:start + page_size]
        items = []
        for rec in chunk:
            items.append({
                "EventId": rec["eventID"], "EventName": rec["eventName"], "ReadOnly": str(rec.get("readOnly")).lower(),
                "EventTime": datetime.datetime.strptime(rec["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC),
                "EventSource": rec["eventSource"],
                "Username": rec["userIdentity"].get("userName") or rec["userIdentity"]["arn"].split("/")[-1],
                "Resources": [{"ResourceType": r.get("type"), "ResourceName": r.get("ARN")} for r in rec.get("resources") or []],
                "CloudTrailEvent": json.dumps(rec),
            })
        page = {"Events": items}
        if start + page_size < len(newest):
            page["NextToken"] = "token-%d" % (start // page_size + 1)
        pages.append(page)
    return pages
