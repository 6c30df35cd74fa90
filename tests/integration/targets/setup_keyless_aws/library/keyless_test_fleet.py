#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only module of the integration targets: launch, read and terminate the small EC2 fleet a
target's fleet module works on. A keyless.aws fleet module never launches anything, so the targets
own this helper. Works the same against the local moto server and a real account (it waits for every
state change, as a real account needs). Not part of the collection's interface.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: keyless_test_fleet
short_description: Launch, read or terminate a target's test instances (integration test helper)
description:
  - O(action=launch) launches one instance per entry of O(instances), waits until all run (and those
    launched with a profile read C(associated)), then stops or terminates those whose state says so and
    waits for that too.
  - O(action=read) returns the ground truth of the instances tagged O(tags) (any state) - the instance
    profile from the active association, as EC2 reports it, and the metadata options.
  - O(action=terminate) terminates every instance tagged O(tags) that is not terminated yet and waits.
author: keyless.aws maintainers (@keyless-aws)
options:
  action: {description: What to do., type: str, choices: [launch, read, terminate], required: true}
  tags:
    description: Tags of every instance (launch), or the tags that select instances (read, terminate).
    type: dict
    required: true
  instances:
    description:
      - With O(action=launch), one entry per instance; C(name) (required, unique) becomes the Name tag
        C(<value of the keyless-test tag, else of the first tag>-<name>) and the key of RV(ids).
      - Other keys are C(state) (V(running), V(stopped), V(terminated)), C(http_tokens), C(hop_limit),
        C(http_endpoint), C(instance_profile) (a name), C(launch_template) (an id) and C(tags) (replacing
        values of O(tags)).
    type: list
    elements: dict
    default: []
  image_id:
    description: The AMI; default the region's latest Amazon Linux 2023 x86_64 from its public SSM parameter.
    type: str
  instance_type: {description: Instance type of launched instances., type: str, default: t3.nano}
  timeout: {description: Seconds to wait for state changes and IAM propagation., type: int, default: 600}
  region: {description: Region., type: str}
  endpoint_url: {description: Endpoint., type: str}
  access_key: {description: Access key id., type: str}
  secret_key: {description: Secret access key., type: str}
  session_token: {description: Session token., type: str}
"""

EXAMPLES = r"""
- name: Two instances, one stopped
  keyless_test_fleet:
    action: launch
    tags: {Fleet: "{{ resource_prefix }}"}
    instances:
      - {name: web, http_tokens: optional}
      - {name: batch, state: stopped}
  register: fleet
"""

RETURN = r"""
ids:
  description: With O(action=launch), name to instance id.
  returned: always
  type: dict
instances:
  description: Instance id to C(state), C(name), C(tags), C(profile_arn), C(association_state), C(metadata).
  returned: always
  type: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule

# a 5xx whose body is no AWS error (a load balancer's HTML page, the local endpoint's strict layer) is retried
# like any 5xx: the collection's one hook for it
from ansible_collections.keyless.aws.plugins.module_utils.aws.connection import retry_any_5xx

try:
    import boto3
    from botocore.exceptions import ClientError
except ImportError:
    boto3 = None

AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
LIVE = ["pending", "running", "stopping", "stopped"]


def tag_filters(tags):
    return [{"Name": "tag:%s" % k, "Values": [v]} for k, v in sorted(tags.items())]


def read(ec2, filters):
    """Ground truth of the instances matching filters: profile from the active association."""
    out = {}
    for page in ec2.get_paginator("describe_instances").paginate(Filters=filters):
        for reservation in page["Reservations"]:
            for inst in reservation["Instances"]:
                tags = dict((t["Key"], t["Value"]) for t in inst.get("Tags") or [])
                out[inst["InstanceId"]] = {"state": inst["State"]["Name"], "name": tags.get("Name"), "tags": tags,
                                           "profile_arn": None, "association_state": None,
                                           "metadata": dict((k, v) for k, v in (inst.get("MetadataOptions") or {}).items()
                                                            if k != "State")}
    ids = sorted(out)
    for start in range(0, len(ids), 200):
        chunk = ids[start:start + 200]
        pages = ec2.get_paginator("describe_iam_instance_profile_associations").paginate(
            Filters=[{"Name": "instance-id", "Values": chunk}])
        for page in pages:
            for assoc in page["IamInstanceProfileAssociations"]:
                if assoc["InstanceId"] in out and assoc["State"] in ("associating", "associated"):
                    out[assoc["InstanceId"]].update(profile_arn=assoc["IamInstanceProfile"]["Arn"],
                                                    association_state=assoc["State"])
    return out


def wait(ec2, wanted, ids, timeout):
    """Poll until every instance of ids is in state `wanted` (quick polls first: the test endpoint
    changes state at once, a real account takes seconds to minutes)."""
    deadline = time.monotonic() + timeout
    delay = 0.2
    while ids:
        states = {}
        for page in ec2.get_paginator("describe_instances").paginate(InstanceIds=ids):
            for reservation in page["Reservations"]:
                for inst in reservation["Instances"]:
                    states[inst["InstanceId"]] = inst["State"]["Name"]
        waiting = sorted(i for i in ids if states.get(i) != wanted)
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("still not %s after %d s: %s" % (wanted, timeout, ", ".join(
                "%s (%s)" % (i, states.get(i)) for i in waiting)))
        time.sleep(delay)
        delay = min(delay * 2, 10)


def wait_associated(ec2, ids, timeout):
    """Poll until the instance profile association of each of ids reads `associated` (a launch with a
    profile starts `associating` on a real account)."""
    deadline = time.monotonic() + timeout
    delay = 0.2
    while ids:
        states = {}
        pages = ec2.get_paginator("describe_iam_instance_profile_associations").paginate(
            Filters=[{"Name": "instance-id", "Values": ids}])
        for page in pages:
            for assoc in page["IamInstanceProfileAssociations"]:
                states[assoc["InstanceId"]] = assoc["State"]
        waiting = sorted(i for i in ids if states.get(i) != "associated")
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("instance profile still not associated after %d s: %s" % (timeout, ", ".join(waiting)))
        time.sleep(delay)
        delay = min(delay * 2, 10)


def run_instance(ec2, spec, tags, image_id, instance_type, timeout):
    """RunInstances for one entry, retrying while a just-created instance profile propagates to EC2."""
    instance_tags = dict(tags, **(spec.get("tags") or {}))
    instance_tags["Name"] = "%s-%s" % (tags.get("keyless-test") or list(tags.values())[0], spec["name"])
    kwargs = {
        "MinCount": 1, "MaxCount": 1,
        "TagSpecifications": [{"ResourceType": "instance",
                               "Tags": [{"Key": k, "Value": v} for k, v in sorted(instance_tags.items())]}],
    }
    if spec.get("launch_template"):
        kwargs["LaunchTemplate"] = {"LaunchTemplateId": spec["launch_template"], "Version": "$Default"}
    else:
        kwargs.update(ImageId=image_id, InstanceType=instance_type)
    options = {}
    for key, field in (("http_tokens", "HttpTokens"), ("hop_limit", "HttpPutResponseHopLimit"),
                       ("http_endpoint", "HttpEndpoint")):
        if spec.get(key) is not None:
            options[field] = spec[key]
    if options:
        kwargs["MetadataOptions"] = options
    if spec.get("instance_profile"):
        kwargs["IamInstanceProfile"] = {"Name": spec["instance_profile"]}
    deadline = time.monotonic() + timeout
    while True:
        try:
            return ec2.run_instances(**kwargs)["Instances"][0]["InstanceId"]
        except ClientError as exc:
            error = exc.response.get("Error", {})
            propagating = error.get("Code") == "InvalidParameterValue" and "iamInstanceProfile" in error.get("Message", "")
            if not propagating or time.monotonic() > deadline:
                raise
            time.sleep(5)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            action=dict(type="str", required=True, choices=["launch", "read", "terminate"]),
            tags=dict(type="dict", required=True),
            instances=dict(type="list", elements="dict", default=[]),
            image_id=dict(type="str"),
            instance_type=dict(type="str", default="t3.nano"),
            timeout=dict(type="int", default=600),
            region=dict(type="str"),
            endpoint_url=dict(type="str"),
            access_key=dict(type="str", no_log=True),
            secret_key=dict(type="str", no_log=True),
            session_token=dict(type="str", no_log=True),
        ),
    )
    if boto3 is None:
        module.fail_json(msg="keyless_test_fleet needs boto3 on the controller")
    p = module.params
    session = retry_any_5xx(boto3.session.Session(
        aws_access_key_id=p["access_key"], aws_secret_access_key=p["secret_key"], aws_session_token=p["session_token"],
        region_name=p["region"]))
    ec2 = session.client("ec2", endpoint_url=p["endpoint_url"])
    tags = dict((k, str(v)) for k, v in p["tags"].items())
    try:
        if p["action"] == "read":
            module.exit_json(changed=False, ids={}, instances=read(ec2, tag_filters(tags)))
        if p["action"] == "terminate":
            live = sorted(read(ec2, tag_filters(tags) + [{"Name": "instance-state-name", "Values": LIVE}]))
            if live:
                ec2.terminate_instances(InstanceIds=live)
                wait(ec2, "terminated", live, p["timeout"])
            module.exit_json(changed=bool(live), ids={}, instances=read(ec2, tag_filters(tags)))
        names = [spec.get("name") for spec in p["instances"]]
        if None in names or len(set(names)) != len(names):
            module.fail_json(msg="every entry of instances needs a unique name")
        image_id = p["image_id"]
        if not image_id and not all(spec.get("launch_template") for spec in p["instances"]):
            image_id = session.client("ssm", endpoint_url=p["endpoint_url"]).get_parameter(
                Name=AMI_PARAMETER)["Parameter"]["Value"]
        ids = dict((spec["name"], run_instance(ec2, spec, tags, image_id, p["instance_type"], p["timeout"]))
                   for spec in p["instances"])
        wait(ec2, "running", sorted(ids.values()), p["timeout"])
        wait_associated(ec2, sorted(ids[s["name"]] for s in p["instances"] if s.get("instance_profile")), p["timeout"])
        by_state = {}
        for spec in p["instances"]:
            by_state.setdefault(spec.get("state") or "running", []).append(ids[spec["name"]])
        if by_state.get("stopped"):
            ec2.stop_instances(InstanceIds=by_state["stopped"])
        if by_state.get("terminated"):
            ec2.terminate_instances(InstanceIds=by_state["terminated"])
        wait(ec2, "stopped", by_state.get("stopped"), p["timeout"])
        wait(ec2, "terminated", by_state.get("terminated"), p["timeout"])
        found = read(ec2, [{"Name": "instance-id", "Values": sorted(ids.values())}])
        module.exit_json(changed=True, ids=ids, instances=found)
    except ClientError as exc:
        module.fail_json(msg="EC2 call failed: %s" % exc)
    except TimeoutError as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
