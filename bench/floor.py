"""The endpoint floor: the minimal calls of a fleet converge, made directly with boto3 from one thread.

No waits, no plan, no module process: describe the selected instances (1,000 a page), read the
associations (1,000 a page), resolve the profile once, then one AssociateIamInstanceProfile per instance
without the profile and one ModifyInstanceMetadataOptions per instance whose HttpTokens differ (sending the
current hop limit and endpoint, as the module must against moto). Whatever this costs on an endpoint is
the least any tool can take there. It is measured with the strict-AWS layer switched off (strict_off in
bench/run.py): the floor is the endpoint's cost, not AWS's windows; its clients retry HTML 5xx pages anyway.
"""

from __future__ import annotations

import time

import boto3
from botocore.config import Config

from tests.support.aws_env import FAKE_ACCESS_KEY, FAKE_SECRET_KEY
from tests.support.fixtures import TRUST
from tests.support.strict import retry_html_5xx


def _client(service, endpoint_url):
    return retry_html_5xx(boto3.client(service, region_name="us-east-1", endpoint_url=endpoint_url,
                                       aws_access_key_id=FAKE_ACCESS_KEY, aws_secret_access_key=FAKE_SECRET_KEY,
                                       config=Config(retries={"mode": "standard", "total_max_attempts": 10})))


def _instances(ec2, tag):
    filters = [{"Name": "tag:%s" % k, "Values": [v]} for k, v in tag.items()]
    filters.append({"Name": "instance-state-name", "Values": ["running", "stopped"]})
    out = []
    for page in ec2.get_paginator("describe_instances").paginate(Filters=filters, PaginationConfig={"PageSize": 1000}):
        for res in page["Reservations"]:
            out.extend(res["Instances"])
    return out


def _associations(ec2):
    index = {}
    for page in ec2.get_paginator("describe_iam_instance_profile_associations").paginate(
            PaginationConfig={"PageSize": 1000}):
        for assoc in page["IamInstanceProfileAssociations"]:
            if assoc["State"] in ("associating", "associated"):
                index[assoc["InstanceId"]] = assoc
    return index


def associate_floor(endpoint_url, tag, profile_name):
    ec2, iam = _client("ec2", endpoint_url), _client("iam", endpoint_url)
    start = time.monotonic()
    instances = _instances(ec2, tag)
    index = _associations(ec2)
    arn = iam.get_instance_profile(InstanceProfileName=profile_name)["InstanceProfile"]["Arn"]
    done = 0
    for inst in instances:
        current = index.get(inst["InstanceId"])
        if current and current["IamInstanceProfile"]["Arn"] == arn:
            continue
        if current:
            ec2.replace_iam_instance_profile_association(AssociationId=current["AssociationId"],
                                                         IamInstanceProfile={"Arn": arn})
        else:
            ec2.associate_iam_instance_profile(InstanceId=inst["InstanceId"], IamInstanceProfile={"Arn": arn})
        done += 1
    return {"seconds": time.monotonic() - start, "changed": done}


def _require_tokens(ec2, inst, http_tokens):
    """ModifyInstanceMetadataOptions to `http_tokens` (hop limit and endpoint kept); False when already so."""
    opts = inst.get("MetadataOptions") or {}
    if opts.get("HttpTokens") == http_tokens:
        return False
    ec2.modify_instance_metadata_options(
        InstanceId=inst["InstanceId"], HttpTokens=http_tokens,
        HttpPutResponseHopLimit=opts.get("HttpPutResponseHopLimit") or 1,
        HttpEndpoint=opts.get("HttpEndpoint") or "enabled")
    return True


def metadata_floor(endpoint_url, tag, http_tokens="required"):
    ec2 = _client("ec2", endpoint_url)
    start = time.monotonic()
    done = 0
    for inst in _instances(ec2, tag):
        if _require_tokens(ec2, inst, http_tokens):
            done += 1
    return {"seconds": time.monotonic() - start, "changed": done}


def whole_job_floor(endpoint_url, tag, role_name, profile_name, http_tokens="required"):
    """The whole job's fewest calls from one thread: the IAM role and its profile (a new account), then one
    describe, one association listing, one Associate and one ModifyInstanceMetadataOptions per instance."""
    ec2, iam = _client("ec2", endpoint_url), _client("iam", endpoint_url)
    start = time.monotonic()
    iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=TRUST)
    arn = iam.create_instance_profile(InstanceProfileName=profile_name)["InstanceProfile"]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName=profile_name, RoleName=role_name)
    instances = _instances(ec2, tag)
    index = _associations(ec2)
    done = 0
    for inst in instances:
        if inst["InstanceId"] not in index:
            ec2.associate_iam_instance_profile(InstanceId=inst["InstanceId"], IamInstanceProfile={"Arn": arn})
        _require_tokens(ec2, inst, http_tokens)
        done += 1
    return {"seconds": time.monotonic() - start, "changed": done}
