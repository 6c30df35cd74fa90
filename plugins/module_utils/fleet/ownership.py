# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who owns an instance (or an Auto Scaling group), read from its tags: pure, no I/O. Private to the collection.

    owner_of(tags) -> dict or None
        {"kind", "name", "service", "protected", "containers", "converge", "tags"} of the service that launched the
        instance and relaunches it (None: nobody, a hand-launched instance). kind is one of OWNER_KINDS.
    PROTECTED_KINDS: the owners whose agents need the role the owner gave the instance (an EKS node's kubelet and
        VPC CNI, the ECS agent, Beanstalk's health agent, Batch's ECS agent, Karpenter's nodes): the fleet steps
        never change the instance profile of such an instance unless the user names the kind in include_owned.
    CONTAINER_KINDS: the owners that run containers on the instance, which reach IMDS through one more network
        hop: a hop limit below 2 breaks them when IMDSv2 is required.

AWS facts relied on (the tags each service puts on the instances it launches):
- EC2 Auto Scaling: aws:autoscaling:groupName (EC2 Auto Scaling user guide, "Tag Auto Scaling groups and
  instances"); EKS managed node groups: eks:cluster-name and eks:nodegroup-name, on instances of an ASG that EKS
  owns (EKS user guide, "Managed node groups"); Karpenter: karpenter.sh/nodepool (karpenter.sh/provisioner-name
  before v1beta1); Elastic Beanstalk: elasticbeanstalk:environment-name and elasticbeanstalk:environment-id;
  Spot Fleet: aws:ec2spot:fleet-request-id; EC2 Fleet: aws:ec2:fleet-id; AWS Batch:
  aws:batch:compute-environment; ECS capacity providers with managed scaling: AmazonECSManaged (on the ASG and
  its instances).
- A node of EKS, Karpenter, ECS or Batch is also an Auto Scaling instance (or a fleet's) in most setups: the most
  specific owner wins, so OWNERS is checked in order.
- EKS's best practices ("Restrict access to the instance profile assigned to the worker node") may set a hop
  limit of 1 on purpose to keep pods away from the node's role: the fleet steps only raise the hop limit to 2
  when their own change would leave a container owner's instance with IMDSv2 required below 2 hops, and not for a
  kind the user named in include_owned.
"""

from __future__ import annotations

# (kind, the tag keys that name it (first present wins for the name), service, protected, containers, converge)
OWNERS = (
    ("eks", ("eks:nodegroup-name", "eks:cluster-name"), "Amazon EKS", True, True,
     "its EKS node group (a custom launch template: a new version and UpdateNodegroupVersion; the template EKS "
     "generated: the node group's own settings)"),
    ("karpenter", ("karpenter.sh/nodepool", "karpenter.sh/provisioner-name"), "Karpenter", True, True,
     "its Karpenter EC2NodeClass (role or instanceProfile, metadataOptions)"),
    ("elasticbeanstalk", ("elasticbeanstalk:environment-name", "elasticbeanstalk:environment-id"),
     "AWS Elastic Beanstalk", True, False,
     "its Elastic Beanstalk environment (aws:autoscaling:launchconfiguration: IamInstanceProfile, DisableIMDSv1)"),
    ("batch", ("aws:batch:compute-environment",), "AWS Batch", True, True,
     "its AWS Batch compute environment (instanceRole, launch template)"),
    ("ecs", ("AmazonECSManaged",), "Amazon ECS", True, True,
     "the launch template of its ECS capacity provider's Auto Scaling group"),
    ("autoscaling", ("aws:autoscaling:groupName",), "EC2 Auto Scaling", False, False,
     "its Auto Scaling group's launch template (keyless.aws.autoscaling_group_identity)"),
    ("spot_fleet", ("aws:ec2spot:fleet-request-id",), "EC2 Spot Fleet", False, False,
     "its Spot Fleet request's launch template"),
    ("ec2_fleet", ("aws:ec2:fleet-id",), "EC2 Fleet", False, False,
     "its EC2 Fleet's launch template"),
)
OWNER_KINDS = tuple(kind for kind, *_rest in OWNERS)
PROTECTED_KINDS = tuple(kind for kind, _keys, _service, protected, *_rest in OWNERS if protected)
CONTAINER_KINDS = tuple(kind for kind, _keys, _service, _protected, containers, _converge in OWNERS if containers)
# the tags worth returning with an owner (what a person needs to find it)
_CONTEXT_TAGS = ("aws:autoscaling:groupName", "eks:cluster-name", "eks:nodegroup-name", "karpenter.sh/nodepool",
                 "elasticbeanstalk:environment-name", "aws:ec2spot:fleet-request-id", "aws:ec2:fleet-id",
                 "aws:batch:compute-environment")
CONTAINER_HOP_LIMIT = 2


def owner_of(tags):
    """The owner of an instance or ASG from its tags ({key: value}, or EC2's [{Key, Value}]); None when none."""
    if isinstance(tags, (list, tuple)):
        tags = {t.get("Key"): t.get("Value") for t in tags}
    tags = tags or {}
    for kind, keys, service, protected, containers, converge in OWNERS:
        present = [key for key in keys if key in tags]
        if not present:
            continue
        name = tags[present[0]] or None
        if kind == "eks" and tags.get("eks:cluster-name") and tags.get("eks:nodegroup-name"):
            name = "%s/%s" % (tags["eks:cluster-name"], tags["eks:nodegroup-name"])
        return {"kind": kind, "name": name, "service": service, "protected": protected, "containers": containers,
                "converge": converge, "tags": {key: tags[key] for key in _CONTEXT_TAGS if key in tags}}
    return None


def profile_left_to_owner(owner, include_owned):
    """True when the fleet must not change this instance's profile: a protected owner the user did not include."""
    return bool(owner) and owner["protected"] and owner["kind"] not in (include_owned or ())


def owner_reason(owner):
    """Why an owned instance's profile was left alone, and what to converge instead."""
    label = "%s %s" % (owner["service"], owner["name"]) if owner.get("name") else owner["service"]
    return ("owned by %s, whose agents need the role it gave the instance: converge %s instead, or name %r in "
            "include_owned" % (label, owner["converge"], owner["kind"]))


def needs_container_hops(owner, include_owned, request, changed_fields):
    """True when our metadata change would leave a container owner's instance with IMDSv2 required below
    CONTAINER_HOP_LIMIT hops (request: the full ModifyInstanceMetadataOptions request; changed_fields: the API
    fields the change sets)."""
    if not owner or not owner["containers"] or owner["kind"] in (include_owned or ()):
        return False
    if request.get("HttpTokens") != "required" or not ({"HttpTokens", "HttpPutResponseHopLimit"} & set(changed_fields)):
        return False
    try:
        return int(request.get("HttpPutResponseHopLimit") or 1) < CONTAINER_HOP_LIMIT
    except (TypeError, ValueError):
        return False
