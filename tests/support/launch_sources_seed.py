"""Seed an AWS endpoint (the local moto server) with fleets that replace themselves, and launch the way they would.

    seed_launch_sources(endpoint_url, region="us-east-1", prefix="ls", tag=None, image_id=None) -> dict
        Launch templates, a launch configuration, Auto Scaling groups of every way to name a version, an EKS
        cluster with two node groups, and instances owned by EKS and Elastic Beanstalk; every ASG and owned
        instance carries `tag` (default {"Fleet": prefix}), so a fleet selector on it selects their instances.
        None of the templates carries an instance profile or requires IMDSv2 (hop limit 1, tokens optional).

        groups (ASG name -> what it launches from):
          <p>-pinned          template <p>-pinned at version "1" (the default is 2, the latest 3: a pinned ASG
                              must get a version built from 1, not from the default)
          <p>-latest          template <p>-latest at "$Latest" (latest 2 differs from the default 1)
          <p>-default         template <p>-default at "$Default" (default 1, latest 2)
          <p>-shared-latest   template <p>-shared at "$Latest" (version 2) ...
          <p>-shared-pinned   ... and the same template at "1": the version built for one must not change what
                              the other launches
          <p>-mixed           MixedInstancesPolicy: <p>-mixed at "$Latest", an override naming <p>-mixed-arm at "1"
          <p>-lc              launch configuration <p>-lc
          <p>-eks-nodes       tagged like EKS's own ASG of node group <p>-eks/general (an owner to leave alone)
        eks: cluster <p>-eks, node group "general" on custom template <p>-eks-nodes at "1", node group "managed"
             on the template EKS generates; instances: the node of "general" (its ASG <p>-eks-nodes propagates
             eks:cluster-name and eks:nodegroup-name) and one Elastic Beanstalk instance.

        Returns {"groups": {name: {...the ASG's launch spec...}}, "templates": {name: id}, "instances": {group or
        "eks"/"beanstalk": [ids]}, "launch_configuration": name, "cluster": name, "tag": {...}}.

    launch_like(endpoint_url, group_name, region="us-east-1") -> [instance ids]
        A scale-out of one ASG as EC2 Auto Scaling would do it now: one RunInstances per launch template the group
        can launch from (its own and each override's), at the version the group names, resolved now; for a
        launch configuration, its AMI, type and profile with IMDS options as the launch configuration says.
        (moto's ASGs launch no instance for a MixedInstancesPolicy and know no instance refresh, so a test
        does not rely on SetDesiredCapacity for this.)

    launched_identity(endpoint_url, instance_ids, region="us-east-1") -> {id: {"profile": name or None,
        "http_tokens", "hop_limit"}}

Seeding is setup, not the subject of a test: it runs with the strict-AWS layer off (strict_off).
"""

from __future__ import annotations

import contextlib

import boto3

from tests.support.aws_env import FAKE_ACCESS_KEY, FAKE_SECRET_KEY
from tests.support.strict import strict_off

MOTO_IMAGE = "ami-12c6146b"  # an image moto knows in us-east-1
OPTIONAL = {"HttpTokens": "optional", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled"}


def _client(service, endpoint_url, region):
    return boto3.client(service, region_name=region, endpoint_url=endpoint_url, aws_access_key_id=FAKE_ACCESS_KEY,
                        aws_secret_access_key=FAKE_SECRET_KEY)


def _template(ec2, name, image_id, versions):
    """A template whose versions differ by instance type (t3.micro, t3.small, ...); returns its id."""
    types = ("t3.micro", "t3.small", "t3.medium", "t3.large")
    data = {"ImageId": image_id, "InstanceType": types[0], "MetadataOptions": dict(OPTIONAL)}
    template_id = ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=data)["LaunchTemplate"][
        "LaunchTemplateId"]
    for number in range(2, versions + 1):
        ec2.create_launch_template_version(LaunchTemplateId=template_id, SourceVersion="1",
                                           LaunchTemplateData={"InstanceType": types[number - 1]})
    return template_id


def _asg_tags(name, tag, extra=None):
    tags = dict(tag, **(extra or {}))
    return [{"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": k, "Value": v, "PropagateAtLaunch": True}
            for k, v in sorted(tags.items())]


def seed_launch_sources(endpoint_url, region="us-east-1", prefix="ls", tag=None, image_id=None):
    with strict_off(endpoint_url) if endpoint_url else contextlib.nullcontext():
        return _seed(endpoint_url, region, prefix, tag or {"Fleet": prefix}, image_id or MOTO_IMAGE)


def _seed(endpoint_url, region, p, tag, image_id):
    ec2 = _client("ec2", endpoint_url, region)
    asg = _client("autoscaling", endpoint_url, region)
    zone = region + "a"
    templates = {
        "%s-pinned" % p: _template(ec2, "%s-pinned" % p, image_id, 3),
        "%s-latest" % p: _template(ec2, "%s-latest" % p, image_id, 2),
        "%s-default" % p: _template(ec2, "%s-default" % p, image_id, 2),
        "%s-shared" % p: _template(ec2, "%s-shared" % p, image_id, 2),
        "%s-mixed" % p: _template(ec2, "%s-mixed" % p, image_id, 1),
        "%s-mixed-arm" % p: _template(ec2, "%s-mixed-arm" % p, image_id, 1),
        "%s-eks-nodes" % p: _template(ec2, "%s-eks-nodes" % p, image_id, 1),
    }
    ec2.modify_launch_template(LaunchTemplateId=templates["%s-pinned" % p], DefaultVersion="2")

    def spec(name, version):
        return {"LaunchTemplateId": templates[name], "Version": version}

    groups = {
        "%s-pinned" % p: {"LaunchTemplate": spec("%s-pinned" % p, "1")},
        "%s-latest" % p: {"LaunchTemplate": spec("%s-latest" % p, "$Latest")},
        "%s-default" % p: {"LaunchTemplate": spec("%s-default" % p, "$Default")},
        "%s-shared-latest" % p: {"LaunchTemplate": spec("%s-shared" % p, "$Latest")},
        "%s-shared-pinned" % p: {"LaunchTemplate": spec("%s-shared" % p, "1")},
        "%s-mixed" % p: {"MixedInstancesPolicy": {"LaunchTemplate": {
            "LaunchTemplateSpecification": spec("%s-mixed" % p, "$Latest"),
            "Overrides": [{"InstanceType": "t3.micro"},
                          {"InstanceType": "t4g.micro", "LaunchTemplateSpecification": spec("%s-mixed-arm" % p, "1")}]},
            "InstancesDistribution": {"OnDemandBaseCapacity": 0, "OnDemandPercentageAboveBaseCapacity": 50}}},
        "%s-eks-nodes" % p: {"LaunchTemplate": spec("%s-eks-nodes" % p, "1")},
    }
    lc = "%s-lc" % p
    asg.create_launch_configuration(LaunchConfigurationName=lc, ImageId=image_id, InstanceType="t3.micro",
                                    MetadataOptions={"HttpTokens": "optional", "HttpPutResponseHopLimit": 1,
                                                     "HttpEndpoint": "enabled"})
    groups[lc] = {"LaunchConfigurationName": lc}
    eks_tags = {"eks:cluster-name": "%s-eks" % p, "eks:nodegroup-name": "general"}
    for name, source in groups.items():
        extra = eks_tags if name == "%s-eks-nodes" % p else None
        asg.create_auto_scaling_group(AutoScalingGroupName=name, MinSize=0, MaxSize=4, DesiredCapacity=1,
                                      AvailabilityZones=[zone], Tags=_asg_tags(name, tag, extra), **source)
    instances = {}
    for name in groups:
        found = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
        instances[name] = sorted(i["InstanceId"] for i in found.get("Instances") or ())

    eks = _client("eks", endpoint_url, region)
    cluster = "%s-eks" % p
    eks.create_cluster(name=cluster, roleArn="arn:aws:iam::123456789012:role/%s-cluster" % p,
                       resourcesVpcConfig={"subnetIds": ["subnet-12345678"]})
    eks.create_nodegroup(clusterName=cluster, nodegroupName="general", nodeRole="arn:aws:iam::123456789012:role/node",
                         subnets=["subnet-12345678"], launchTemplate={"id": templates["%s-eks-nodes" % p],
                                                                      "version": "1"})
    eks.create_nodegroup(clusterName=cluster, nodegroupName="managed", nodeRole="arn:aws:iam::123456789012:role/node",
                         subnets=["subnet-12345678"])
    instances["eks"] = instances.pop("%s-eks-nodes" % p)
    beanstalk = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1, MetadataOptions=dict(OPTIONAL),
                                  TagSpecifications=[{"ResourceType": "instance", "Tags": [
                                      {"Key": k, "Value": v} for k, v in dict(
                                          tag, **{"elasticbeanstalk:environment-name": "%s-shop" % p}).items()]}])
    instances["beanstalk"] = [i["InstanceId"] for i in beanstalk["Instances"]]
    return {"groups": groups, "templates": templates, "instances": instances, "launch_configuration": lc,
            "cluster": cluster, "tag": dict(tag)}


def _specs(group):
    """Every (template spec) the group can launch from: its own and each MixedInstancesPolicy override's."""
    if group.get("LaunchTemplate"):
        return [group["LaunchTemplate"]]
    policy = (group.get("MixedInstancesPolicy") or {}).get("LaunchTemplate") or {}
    specs = [policy["LaunchTemplateSpecification"]] if policy.get("LaunchTemplateSpecification") else []
    specs += [o["LaunchTemplateSpecification"] for o in policy.get("Overrides") or () if o.get("LaunchTemplateSpecification")]
    return specs


def launch_like(endpoint_url, group_name, region="us-east-1"):
    ec2 = _client("ec2", endpoint_url, region)
    asg = _client("autoscaling", endpoint_url, region)
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group_name])["AutoScalingGroups"][0]
    launched = []
    with strict_off(endpoint_url) if endpoint_url else contextlib.nullcontext():
        if group.get("LaunchConfigurationName") and not _specs(group):
            lc = asg.describe_launch_configurations(LaunchConfigurationNames=[group["LaunchConfigurationName"]])[
                "LaunchConfigurations"][0]
            extra = {"IamInstanceProfile": {"Name": lc["IamInstanceProfile"]}} if lc.get("IamInstanceProfile") else {}
            if lc.get("MetadataOptions"):
                extra["MetadataOptions"] = lc["MetadataOptions"]
            answer = ec2.run_instances(ImageId=lc["ImageId"], InstanceType=lc["InstanceType"], MinCount=1, MaxCount=1,
                                       **extra)
            return [i["InstanceId"] for i in answer["Instances"]]
        for spec in _specs(group):
            ref = {k: spec[k] for k in ("LaunchTemplateId", "LaunchTemplateName") if spec.get(k)}
            version = spec.get("Version") or "$Default"
            data = ec2.describe_launch_template_versions(Versions=[version], **ref)["LaunchTemplateVersions"][0][
                "LaunchTemplateData"]
            # RunInstances with the resolved version's data, as the group would launch it now
            extra = {}
            if data.get("IamInstanceProfile"):
                extra["IamInstanceProfile"] = data["IamInstanceProfile"]
            if data.get("MetadataOptions"):
                extra["MetadataOptions"] = {k: v for k, v in data["MetadataOptions"].items() if k != "State"}
            answer = ec2.run_instances(ImageId=data.get("ImageId") or MOTO_IMAGE,
                                       InstanceType=data.get("InstanceType") or "t3.micro", MinCount=1, MaxCount=1,
                                       **extra)
            launched += [i["InstanceId"] for i in answer["Instances"]]
    return launched


def launched_identity(endpoint_url, instance_ids, region="us-east-1"):
    ec2 = _client("ec2", endpoint_url, region)
    out = {}
    for reservation in ec2.describe_instances(InstanceIds=list(instance_ids))["Reservations"]:
        for instance in reservation["Instances"]:
            arn = (instance.get("IamInstanceProfile") or {}).get("Arn")
            options = instance.get("MetadataOptions") or {}
            out[instance["InstanceId"]] = {"profile": arn.rsplit("/", 1)[-1] if arn else None,
                                           "http_tokens": options.get("HttpTokens"),
                                           "hop_limit": options.get("HttpPutResponseHopLimit")}
    return out
