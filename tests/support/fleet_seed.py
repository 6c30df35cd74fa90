"""Seed an AWS endpoint (the local moto server) with a mixed EC2 fleet: THE seeding code shared by the
tests, the demo and the benchmark.

API (stable; other engineers import it):

    seed_fleet(endpoint_url, count, region="us-east-1", prefix="app", mix="realistic", seed=0,
               correct_profile=None, other_profile="LegacyProfile", control_group=0,
               imdsv1_callers=None, tag=None, image_id=None, batch=1000, name_tags=None) -> dict

    Launches `count` instances tagged `tag` (default {"Fleet": prefix}) and Name=<prefix>-<profile>-<imds>
    (name_tags; default: only when count <= 2000, because moto's DescribeInstances costs O(instances x
    tags in the region): every extra tag slows every describe of a large fleet), plus
    `control_group` instances tagged {"Fleet": prefix + "-control"} (every value of `tag` + "-control") (outside a selector on the fleet tag;
    they get the other profile and IMDS optional, so a test can check they are untouched).

    mix="realistic": a deterministic (random.Random(seed)) mix of
        profile:  ~45% none, ~35% `other_profile`, ~20% `correct_profile` (none when correct_profile is None)
        IMDS:     ~65% tokens optional hop 1, ~15% optional hop 2 (containers), ~20% required already
        state:    ~12% stopped, ~5% terminated, the rest running
        imdsv1_callers: that many running, tokens-optional instances (default ~5% of count) get
        MetadataNoToken datapoints (CloudWatch AWS/EC2, dimension InstanceId) summing to >0 within the last day.
        history_days (default 14): every running instance gets a MetadataNoToken datapoint a day for that many days
        (0, or the caller's count today), as EC2 publishes them - except imdsv1_no_data (default 0) running
        tokens-optional instances chosen at random, which have none (no evidence: just launched, metric missing).
        Stopped instances have the history too (they ran until lately).
    mix="uniform": every instance running, no profile, tokens optional, hop limit 1, no IMDSv1 callers
        unless imdsv1_callers is given (the benchmark's clean worst case: every instance needs every change).

    Profiles: `other_profile` (and `correct_profile` when given) are created with a role of the same name
    (+"Role") when they do not exist yet.

    Returns {"all": [...fleet ids, not the control group...], "running", "stopped", "terminated",
             "no_profile", "other_profile", "correct_profile", "imdsv1_callers" (ids),
             "imdsv1_counts" ({id: Sum}), "imdsv1_no_data" (ids), "imdsv1_history" (ids with a daily history), "hop_limit_2", "required_already", "optional",
             "control_group", "tag" ({key: value} of the fleet), "profiles" ({"other": arn, "correct": arn|None})}
    Category lists overlap (a stopped instance is also in no_profile or other_profile ...); terminated
    instances appear only in "all" and "terminated" (AWS drops their association). Every list is sorted.

    fleet_state(endpoint_url, instance_ids, region="us-east-1") -> {id: {"state", "profile_arn",
        "association_state", "metadata": {HttpTokens, HttpPutResponseHopLimit, HttpEndpoint, ...}}}
        The ground truth for assertions: read straight from EC2 with boto3 (profile from the active
        association, since moto's DescribeInstances goes stale after a Replace).

Strict layer: seeding is setup, not the subject of a test, and stands for a fleet that existed long before the
run: seed_fleet switches every strict-AWS behaviour off while it seeds (strict.strict_off: no throttling, no
HTML 5xx pages, no propagation windows, so the fleet it leaves is settled) and switches back on those that were
on. Every client of this module retries the layer's HTML 5xx pages as the 503s they are (fleet_state runs with
the layer on).

Speed: run_instances in batches of up to `batch` instances per (profile, IMDS) variant, stop/terminate in
bulk (1,000 ids a call), one PutMetricData per 20 callers; the only per-instance calls are the
AssociateIamInstanceProfile of instances seeded with a profile (EC2 has no bulk form), on 8 threads.

Command line (for the demo):
    python -m tests.support.fleet_seed --endpoint http://127.0.0.1:5000 --count 1000 [--mix uniform]
        [--prefix app] [--correct-profile AppProfile] [--control-group 5] [--seed 0]
prints the returned dict's category sizes as JSON (ids with --ids).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime
import json
import random
import sys

import boto3
from botocore.exceptions import ClientError

from tests.support.aws_env import FAKE_ACCESS_KEY, FAKE_SECRET_KEY
from tests.support.fixtures import TRUST
from tests.support.strict import retry_html_5xx, strict_off

DEFAULT_IMAGE = "ami-12c6146b"  # one of moto's built-in AMIs

IMDS_VARIANTS = {
    "optional": {"HttpTokens": "optional", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled"},
    "hop_limit_2": {"HttpTokens": "optional", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled"},
    "required_already": {"HttpTokens": "required", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled"},
}


def _client(service, endpoint_url, region):
    return retry_html_5xx(boto3.client(service, region_name=region, endpoint_url=endpoint_url,
                                       aws_access_key_id=FAKE_ACCESS_KEY, aws_secret_access_key=FAKE_SECRET_KEY))


def ensure_profile(iam, name):
    """Create instance profile `name` holding role `<name>Role` unless it exists; return its ARN."""
    try:
        return iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Arn"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchEntity":
            raise
    role = name + "Role"
    try:
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
    arn = iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
    return arn


def _plan_realistic(count, rng, has_correct):
    """One (profile, imds, state) triple per instance; deterministic for a given rng."""
    plan = []
    for dummy in range(count):
        p = rng.random()
        if p < 0.45 or (p >= 0.80 and not has_correct):
            profile = "none"
        elif p < 0.80:
            profile = "other"
        else:
            profile = "correct"
        m = rng.random()
        imds = "optional" if m < 0.65 else ("hop_limit_2" if m < 0.80 else "required_already")
        s = rng.random()
        state = "stopped" if s < 0.12 else ("terminated" if s < 0.17 else "running")
        plan.append((profile, imds, state))
    return plan


def _launch(ec2, image_id, n, tags, imds, batch):
    ids = []
    while n > 0:
        k = min(n, batch)
        kwargs = dict(ImageId=image_id, MinCount=k, MaxCount=k, InstanceType="t3.micro",
                      MetadataOptions=dict(IMDS_VARIANTS[imds]),
                      TagSpecifications=[{"ResourceType": "instance",
                                          "Tags": [{"Key": a, "Value": b} for a, b in tags.items()]}])
        resp = ec2.run_instances(**kwargs)
        ids.extend(i["InstanceId"] for i in resp["Instances"])
        n -= k
    return ids


def _associate(ec2, pairs, threads=8):
    """AssociateIamInstanceProfile for each (instance_id, profile_name): EC2 has no bulk form (and moto's
    RunInstances associates only the first instance of a batch), so a small thread pool does it."""
    def one(pair):
        ec2.associate_iam_instance_profile(InstanceId=pair[0], IamInstanceProfile={"Name": pair[1]})
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, pairs))


def _chunks(items, size):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def put_imdsv1_calls(cloudwatch, counts, when=None):
    """PutMetricData MetadataNoToken datapoints: {instance_id: calls} (20 instances per call)."""
    when = when or (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=6))
    items = sorted(counts.items())
    for chunk in _chunks(items, 20):
        cloudwatch.put_metric_data(Namespace="AWS/EC2", MetricData=[
            {"MetricName": "MetadataNoToken", "Dimensions": [{"Name": "InstanceId", "Value": iid}],
             "Timestamp": when, "Value": float(v), "Unit": "Count"} for iid, v in chunk])


def put_metric_history(cloudwatch, instance_ids, days, metric="MetadataNoToken", values=None, now=None):
    """What EC2 publishes for running instances: one datapoint a day for `days` days back from now (today's first),
    0 unless values[instance_id] = [today's, yesterday's, ...] says otherwise (1,000 datapoints a PutMetricData
    call, AWS's maximum)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    values = values or {}
    points = []
    for iid in sorted(instance_ids):
        own = list(values.get(iid) or ())
        for n in range(days):
            points.append({"MetricName": metric, "Dimensions": [{"Name": "InstanceId", "Value": iid}],
                           "Timestamp": now - datetime.timedelta(days=n, minutes=1),
                           "Value": float(own[n]) if n < len(own) else 0.0, "Unit": "Count"})
    for chunk in _chunks(points, 1000):
        cloudwatch.put_metric_data(Namespace="AWS/EC2", MetricData=chunk)


def seed_fleet(endpoint_url, count, region="us-east-1", prefix="app", mix="realistic", seed=0,
               correct_profile=None, other_profile="LegacyProfile", control_group=0,
               imdsv1_callers=None, tag=None, image_id=None, batch=1000, name_tags=None, history_days=14,
               imdsv1_no_data=0):
    """Launch a mixed fleet; see the module docstring for the categories returned."""
    if mix not in ("realistic", "uniform"):
        raise ValueError("mix must be 'realistic' or 'uniform', not %r" % (mix,))
    with strict_off(endpoint_url):
        return _seed_fleet(endpoint_url, count, region, prefix, mix, seed, correct_profile, other_profile,
                           control_group, imdsv1_callers, tag, image_id, batch, name_tags, history_days, imdsv1_no_data)


def _seed_fleet(endpoint_url, count, region, prefix, mix, seed, correct_profile, other_profile, control_group,
                imdsv1_callers, tag, image_id, batch, name_tags, history_days=14, imdsv1_no_data=0):
    rng = random.Random(seed)
    ec2 = _client("ec2", endpoint_url, region)
    iam = _client("iam", endpoint_url, region)
    cloudwatch = _client("cloudwatch", endpoint_url, region)
    image_id = image_id or DEFAULT_IMAGE
    if name_tags is None:
        name_tags = count <= 2000
    tag = dict(tag or {"Fleet": prefix})
    profiles = {"other": ensure_profile(iam, other_profile) if (mix == "realistic" or control_group) else None,
                "correct": ensure_profile(iam, correct_profile) if correct_profile else None}

    if mix == "uniform":
        plan = [("none", "optional", "running")] * count
    else:
        plan = _plan_realistic(count, rng, bool(correct_profile))

    # group identical variants so each group is one (or a few) RunInstances calls
    groups = {}
    for idx, variant in enumerate(plan):
        groups.setdefault(variant, []).append(idx)
    out = {k: [] for k in ("all", "running", "stopped", "terminated", "no_profile", "other_profile",
                           "correct_profile", "hop_limit_2", "required_already", "optional",
                           "imdsv1_callers", "control_group")}
    profile_names = {"none": None, "other": other_profile, "correct": correct_profile}
    to_stop, to_terminate, to_associate = [], [], []
    for (profile, imds, state), idxs in sorted(groups.items()):
        tags = dict(tag, Name="%s-%s-%s" % (prefix, profile, imds)) if name_tags else dict(tag)
        ids = _launch(ec2, image_id, len(idxs), tags, imds, batch)
        out["all"].extend(ids)
        if profile_names[profile]:
            to_associate.extend((iid, profile_names[profile]) for iid in ids)
        out[imds].extend(ids)
        if state == "terminated":
            to_terminate.extend(ids)
            continue
        out[{"none": "no_profile", "other": "other_profile", "correct": "correct_profile"}[profile]].extend(ids)
        (to_stop if state == "stopped" else out["running"]).extend(ids)
    if control_group:
        ctl_tag = {k: v + "-control" for k, v in tag.items()}
        if name_tags:
            ctl_tag["Name"] = "%s-control" % prefix
        out["control_group"] = _launch(ec2, image_id, control_group, ctl_tag, "optional", batch)
        to_associate.extend((iid, other_profile) for iid in out["control_group"])
    _associate(ec2, to_associate)
    for chunk in _chunks(to_stop, 1000):
        ec2.stop_instances(InstanceIds=chunk)
    for chunk in _chunks(to_terminate, 1000):
        ec2.terminate_instances(InstanceIds=chunk)
    out["stopped"] = to_stop
    out["terminated"] = to_terminate

    if imdsv1_callers is None:
        imdsv1_callers = 0 if mix == "uniform" else max(1, count // 20) if count else 0
    candidates = sorted(set(out["running"]) & set(out["optional"]) | set(out["running"]) & set(out["hop_limit_2"]))
    callers = rng.sample(candidates, min(imdsv1_callers, len(candidates)))
    counts = {iid: float(rng.randint(1, 500)) for iid in callers}
    quiet = sorted(set(candidates) - set(callers))
    no_data = rng.sample(quiet, min(imdsv1_no_data, len(quiet)))
    # EC2 publishes MetadataNoToken (0 included) while an instance runs: every running one has a daily history
    # except the `no_data` ones (just launched, or the metric missing), and so has every stopped one (it ran
    # until lately); the callers' calls fall on today
    history = sorted((set(out["running"]) | set(out["stopped"])) - set(no_data))
    if history_days:
        put_metric_history(cloudwatch, history, history_days, values={iid: [n] for iid, n in counts.items()})
    elif counts:
        put_imdsv1_calls(cloudwatch, counts)
    out["imdsv1_callers"] = callers
    out["imdsv1_counts"] = counts
    out["imdsv1_no_data"] = sorted(no_data)
    out["imdsv1_history"] = history
    for key, value in out.items():
        if isinstance(value, list):
            value.sort()
    out["tag"] = tag
    out["profiles"] = profiles
    return out


def fleet_state(endpoint_url, instance_ids, region="us-east-1"):
    """Ground truth per instance, read directly with boto3 (see module docstring)."""
    ec2 = _client("ec2", endpoint_url, region)
    wanted = set(instance_ids)
    state = {}
    for chunk in _chunks(sorted(wanted), 200):
        for page in ec2.get_paginator("describe_instances").paginate(
                Filters=[{"Name": "instance-id", "Values": chunk}], PaginationConfig={"PageSize": 1000}):
            for res in page["Reservations"]:
                for inst in res["Instances"]:
                    state[inst["InstanceId"]] = {"state": inst["State"]["Name"], "profile_arn": None,
                                                 "association_state": None,
                                                 "metadata": dict(inst.get("MetadataOptions") or {})}
    token = None
    while True:
        kwargs = {"MaxResults": 1000}
        if token:
            kwargs["NextToken"] = token
        resp = ec2.describe_iam_instance_profile_associations(**kwargs)
        for assoc in resp["IamInstanceProfileAssociations"]:
            iid = assoc["InstanceId"]
            if iid in state and assoc["State"] != "disassociated":
                state[iid]["profile_arn"] = assoc["IamInstanceProfile"]["Arn"]
                state[iid]["association_state"] = assoc["State"]
        token = resp.get("NextToken")
        if not token:
            break
    return state


def main(argv=None):
    parser = argparse.ArgumentParser(description="Seed a mixed EC2 fleet into an AWS endpoint (moto).")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--prefix", default="app")
    parser.add_argument("--mix", choices=("realistic", "uniform"), default="realistic")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--correct-profile")
    parser.add_argument("--other-profile", default="LegacyProfile")
    parser.add_argument("--control-group", type=int, default=0)
    parser.add_argument("--imdsv1-callers", type=int)
    parser.add_argument("--ids", action="store_true", help="print every id, not just the counts")
    args = parser.parse_args(argv)
    out = seed_fleet(args.endpoint, args.count, region=args.region, prefix=args.prefix, mix=args.mix,
                     seed=args.seed, correct_profile=args.correct_profile, other_profile=args.other_profile,
                     control_group=args.control_group, imdsv1_callers=args.imdsv1_callers)
    if not args.ids:
        out = {k: (len(v) if isinstance(v, (list, dict)) and k not in ("tag", "profiles") else v)
               for k, v in out.items()}
    json.dump(out, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())


def assumed_session(endpoint_url, role_arn, session_name="keyless-tests"):
    """A boto3 Session with the credentials of `role_arn` (moto's AssumeRole credentials select the role's
    account, so resources made with them live in that account)."""
    sts = _client("sts", endpoint_url, "us-east-1")  # STS of the caller's own region (sts_region)
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
    return boto3.session.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                                 aws_session_token=creds["SessionToken"])


@contextlib.contextmanager
def as_role(endpoint_url, role_arn):
    """Every call of this module (seed_fleet, fleet_state) made with `role_arn`'s credentials: seeding and
    reading the fleets of member accounts with the same code. Yields the session."""
    global _client  # pylint: disable=global-statement
    session = assumed_session(endpoint_url, role_arn)
    original = _client

    def member_client(service, endpoint, region):
        return retry_html_5xx(session.client(service, region_name=region, endpoint_url=endpoint))

    _client = member_client
    try:
        yield session
    finally:
        _client = original
