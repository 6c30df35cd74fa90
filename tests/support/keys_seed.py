"""Seed an account whose IAM users' access keys are used from instances of a fleet: the account side of issue 24
("no keys left behind"). Used by tests/scenarios/test_access_keys.py.

    seed_keys(endpoint_url, trail_dir, region="us-east-1", prefix="kk", now=None, s3_bucket=None) -> dict

What it leaves (moto, through tests/support/moto_iam_keys.py for what a test cannot live through):
- a fleet of 4 running instances tagged {"Fleet": prefix} (tests/support/fleet_seed.py, uniform) and one control
  instance outside the selector ({"Fleet": prefix + "-control"}); a VPC endpoint (S3, interface) in the fleet's VPC.
- user <prefix>-app with two keys:
    "recent": used from instance 0 through the VPC endpoint (private IP, vpcEndpointId) and from instance 1 over its
              public IP, the last use 1 day ago (GetAccessKeyLastUsed and CloudTrail agree), plus calls from an
              address outside the fleet (203.0.113.7) - the key a retire step must refuse, naming that use;
    "stale":  created 200 days ago, last used 150 days ago (unused for months, no event in the window).
- user <prefix>-batch with one key:
    "quiet":  used from instance 2 over its public IP 40 to 45 days ago, last used 40 days ago (quiet for 30 days).
- instance 3 uses no key; the control instance uses "quiet" too, outside the selector.
- CloudTrail log files (gzip JSON, the delivered layout, activity_fixtures.write_log_files) under `trail_dir` for the
  account (and in the S3 bucket `s3_bucket`, created, when given), with noise: a role's calls from an instance (type
  AssumedRole, its session keys: not a user's key).

Returns {"tag", "instances" [ids, fleet], "control" id, "addresses" {id: {private, public, vpc_id}},
"endpoint_id", "account", "users" {name: [key names]}, "keys" {name: {user, id, masked, last_used, created}},
"secrets" [the seeded secret access keys: no output may contain them], "events" [records written],
"expected" {key name: {instance id: calls}}}.
Seeding runs under strict_off (it stands for an account that existed long before the test).
"""

from __future__ import annotations

import datetime
import random
import uuid

import boto3

from tests.support.activity_fixtures import write_log_files
from tests.support.aws_env import FAKE_ACCESS_KEY, FAKE_SECRET_KEY
from tests.support.fleet_seed import seed_fleet
from tests.support.moto_iam_keys import set_key_history
from tests.support.strict import retry_html_5xx, strict_off

UTC = datetime.timezone.utc
OUTSIDE_ADDRESS = "203.0.113.7"  # TEST-NET-3: no instance has it


def _client(service, url, region):
    return retry_html_5xx(boto3.client(service, region_name=region, endpoint_url=url,
                                       aws_access_key_id=FAKE_ACCESS_KEY, aws_secret_access_key=FAKE_SECRET_KEY))


def mask(key_id):
    return "%s...%s" % (key_id[:4], key_id[-4:])


def _identity(account, user, key_id):
    return {"type": "IAMUser", "principalId": "AIDA" + key_id[4:], "arn": "arn:aws:iam::%s:user/%s" % (account, user),
            "accountId": account, "accessKeyId": key_id, "userName": user}


def _role_identity(account, instance_id):
    return {"type": "AssumedRole", "principalId": "AROAEXAMPLEROLE0001:%s" % instance_id,
            "arn": "arn:aws:sts::%s:assumed-role/AppRole/%s" % (account, instance_id), "accountId": account,
            "accessKeyId": "ASIA" + "X" * 16,
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEROLE0001",
                                                 "arn": "arn:aws:iam::%s:role/AppRole" % account, "accountId": account,
                                                 "userName": "AppRole"}}}


def _record(rng, identity, when, source, name, region, account, address, params=None, endpoint=None):
    rec = {"eventVersion": "1.09", "userIdentity": identity, "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
           "eventSource": source, "eventName": name, "awsRegion": region, "sourceIPAddress": address,
           "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.amzn.2023",
           "requestParameters": params, "responseElements": None, "requestID": str(uuid.UUID(int=rng.getrandbits(128))),
           "eventID": str(uuid.UUID(int=rng.getrandbits(128))), "readOnly": True, "eventType": "AwsApiCall",
           "managementEvent": True, "recipientAccountId": account, "eventCategory": "Management"}
    if endpoint:
        rec["vpcEndpointId"] = endpoint
        rec["vpcEndpointAccountId"] = account
    return rec


def _addresses(ec2, ids):
    out = {}
    for reservation in ec2.describe_instances(InstanceIds=ids)["Reservations"]:
        for inst in reservation["Instances"]:
            out[inst["InstanceId"]] = {"private": inst.get("PrivateIpAddress"), "public": inst.get("PublicIpAddress"),
                                       "vpc_id": inst.get("VpcId")}
    return out


def seed_keys(endpoint_url, trail_dir, region="us-east-1", prefix="kk", now=None, s3_bucket=None):
    now = (now or datetime.datetime.now(UTC)).replace(microsecond=0)
    with strict_off(endpoint_url):
        return _seed(endpoint_url, trail_dir, region, prefix, now, s3_bucket)


def _seed(url, trail_dir, region, prefix, now, s3_bucket):
    rng = random.Random(24)
    fleet = seed_fleet(url, 4, region=region, prefix=prefix, mix="uniform", control_group=1)
    instances = fleet["all"]
    control = fleet["control_group"][0]
    ec2, iam = _client("ec2", url, region), _client("iam", url, region)
    account = _client("sts", url, region).get_caller_identity()["Account"]
    addresses = _addresses(ec2, instances + [control])
    missing = [i for i in instances[:3] + [control] if not addresses[i]["public"] or not addresses[i]["private"]]
    assert not missing, "moto gave these instances no public or private address: %s" % missing
    vpc = addresses[instances[0]]["vpc_id"]
    endpoint = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.%s.s3" % region,
                                       VpcEndpointType="Interface")["VpcEndpoint"]["VpcEndpointId"]

    users = {"%s-app" % prefix: ["recent", "stale"], "%s-batch" % prefix: ["quiet"]}
    keys, secrets = {}, []
    for user, names in users.items():
        iam.create_user(UserName=user)
        for name in names:
            created = iam.create_access_key(UserName=user)["AccessKey"]
            secrets.append(created["SecretAccessKey"])
            keys[name] = {"user": user, "id": created["AccessKeyId"], "masked": mask(created["AccessKeyId"])}

    history = {
        "recent": (now - datetime.timedelta(days=120), now - datetime.timedelta(days=1), "s3", region),
        "stale": (now - datetime.timedelta(days=200), now - datetime.timedelta(days=150), "sqs", region),
        "quiet": (now - datetime.timedelta(days=300), now - datetime.timedelta(days=40), "s3", region),
    }
    for name, (created, used, service, where) in history.items():
        set_key_history(keys[name]["id"], created=created, last_used=used, service=service, region=where)
        keys[name].update(created=created, last_used=used)

    def ident(name):
        return _identity(account, keys[name]["user"], keys[name]["id"])

    events = []
    expected = {"recent": {}, "quiet": {}}
    a0, a1, a2 = instances[0], instances[1], instances[2]
    bucket = "%s-app-data" % prefix
    for day in range(1, 8):  # recent: a week of calls, the last one a day ago
        base = now - datetime.timedelta(days=day)
        for minute in (5, 25, 45):
            events.append(_record(rng, ident("recent"), base - datetime.timedelta(minutes=minute), "s3.amazonaws.com",
                                  "GetObject", region, account, addresses[a0]["private"],
                                  {"bucketName": bucket, "key": "config/app.json"}, endpoint=endpoint))
        events.append(_record(rng, ident("recent"), base - datetime.timedelta(hours=2), "sqs.amazonaws.com",
                              "ReceiveMessage", region, account, addresses[a1]["public"],
                              {"queueUrl": "https://sqs.%s.amazonaws.com/%s/%s-jobs" % (region, account, prefix)}))
        events.append(_record(rng, ident("recent"), base - datetime.timedelta(hours=3), "sts.amazonaws.com",
                              "GetCallerIdentity", region, account, OUTSIDE_ADDRESS))
    expected["recent"] = {a0: 21, a1: 7}
    for day in range(40, 46):  # quiet: used 40 to 45 days ago from instance 2, and once from the control instance
        base = now - datetime.timedelta(days=day)
        events.append(_record(rng, ident("quiet"), base - datetime.timedelta(minutes=10), "s3.amazonaws.com",
                              "PutObject", region, account, addresses[a2]["public"],
                              {"bucketName": bucket, "key": "exports/batch.csv"}))
    events.append(_record(rng, ident("quiet"), now - datetime.timedelta(days=44), "s3.amazonaws.com", "ListObjects",
                          region, account, addresses[control]["public"], {"bucketName": bucket}))
    expected["quiet"] = {a2: 6}
    a3 = instances[3]
    for day in range(0, 10):  # noise: the role of instance 3, with its own session keys (ASIA...)
        events.append(_record(rng, _role_identity(account, a3), now - datetime.timedelta(days=day, hours=5),
                              "s3.amazonaws.com", "GetObject", region, account, addresses[a3]["private"]))
    events.sort(key=lambda r: r["eventTime"])
    write_log_files(str(trail_dir), None, account, region, "arn:aws:iam::%s:role/AppRole" % account, events=events)
    if s3_bucket:
        s3 = _client("s3", url, region)
        s3.create_bucket(Bucket=s3_bucket)
        write_log_files(s3, s3_bucket, account, region, "arn:aws:iam::%s:role/AppRole" % account, events=events)
    return {"tag": fleet["tag"], "instances": instances, "control": control, "addresses": addresses,
            "endpoint_id": endpoint, "account": account, "users": users, "keys": keys, "secrets": secrets,
            "events": events, "expected": expected, "now": now}


def key_status(iam, seeded, name):
    """The Status of the seeded key `name` (recent, stale, quiet), read from IAM; None when it is gone."""
    key = seeded["keys"][name]
    keys = iam.list_access_keys(UserName=key["user"])["AccessKeyMetadata"]
    found = [k["Status"] for k in keys if k["AccessKeyId"] == key["id"]]
    return found[0] if found else None


def assert_no_secret(seeded, *texts):
    """No seeded secret access key (whole, or a 12-character piece of it) and no full key id in any of `texts`."""
    leaks = []
    for i, text in enumerate(texts):
        for secret in seeded["secrets"]:
            leaks += ["output %d contains the secret %s..." % (i, secret[:3]) for fragment in (secret, secret[10:22])
                      if fragment in text]
        leaks += ["output %d shows the full id of %s" % (i, key["masked"]) for key in seeded["keys"].values()
                  if key["id"] in text]
    assert not leaks, sorted(set(leaks))


def seed_keys_with_trail(url, tmp_path, prefix="kk"):
    """seed_keys with its CloudTrail log files in tmp_path/trail; the result carries "trail" (that directory)."""
    trail = tmp_path / "trail"
    trail.mkdir()
    data = seed_keys(url, trail, prefix=prefix)
    data["trail"] = str(trail)
    return data
