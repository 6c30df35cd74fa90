#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: autoscaling_group_identity
short_description: Make EC2 Auto Scaling groups launch instances with an instance profile and IMDSv2
version_added: 0.1.0
description:
  - For the Auto Scaling groups selected by name or tags, checks what each group B(launches) and makes it
    launch instances with the instance profile and the instance metadata options given, so that a scale-out
    after converging the fleet (M(keyless.aws.ec2_instance_identity)) does not undo it.
  - B(Launch sources.) A group launches from its C(LaunchTemplate), or from the launch template of its
    C(MixedInstancesPolicy) and of every override that names one. Each names a version - a number,
    C($Latest) or C($Default) (no version is C($Default)). That version is read and judged; only the instance
    profile and the metadata options given are compared.
  - When it is not compliant, a new version is created B(from the version the group launches), with only
    C(IamInstanceProfile) and C(MetadataOptions) changed (every other launch parameter is kept), and the group
    is pointed at it the way it names its version. A number becomes the new number (C(UpdateAutoScalingGroup);
    a C(MixedInstancesPolicy) is sent whole, only the version of the changed specifications replaced).
    C($Latest) needs nothing (the new version is the latest). C($Default) moves the template's default version.
  - Several groups that launch the same version share one new version. A version that already carries exactly
    the change (the latest, left by an earlier run) is used instead of creating another one.
  - B(The order rule.) The last version created becomes C($Latest). On a shared template the versions for the
    other groups are created first and the one built from the latest version last. When versions are created
    on a template whose latest version is not one of them (it is compliant, or launched only by groups left
    alone), a copy of that latest version is created last, so that whatever launches C($Latest) - a group, a
    fleet, or a group outside the selection - still launches what it did.
  - A group whose change would move what a group left alone launches (both launch C($Default) of one
    template, or both C($Latest)) is C(held) with the reason. Groups outside the selection are not read, and a
    moved default version moves for every C($Default) consumer, so select the groups that share a template
    together.
  - B(Ownership.) A group owned by a service is C(skipped) with what to converge instead - Amazon EKS (tags
    C(eks:cluster-name), C(eks:nodegroup-name), or a group named C(eks-<node group>-<uuid>)), AWS Elastic
    Beanstalk (C(elasticbeanstalk:environment-name)), AWS Batch (C(aws:batch:compute-environment)), Amazon ECS
    capacity providers (C(AmazonECSManaged)). O(include_owned) includes the last three. An EKS node group is
    always converged through EKS (a new launch template version and C(UpdateNodegroupVersion), see
    M(keyless.aws.eks_nodegroup_identity)), never here.
    Groups with an C(Operator) and templates managed by a service (C(Operator.Managed)) are skipped too.
  - B(Launch configurations) cannot change. With O(convert_launch_configurations=true) a launch template is
    created from the group's launch configuration as AWS's migration guide maps it (image, instance type, key
    pair, security groups, user data, block devices, monitoring, EBS optimization, public IP address as a
    network interface, tenancy, spot price as market options), with the instance profile and metadata
    options given, and the group launches its C($Default) version, so that later runs of this module and of
    M(keyless.aws.ec2_launch_template_identity) converge it by moving the default version. Without it the
    group is C(held) and RV(groups[].proposed) shows the template and the group change.
  - With O(instance_refresh=true) an instance refresh (rolling, skip matching) starts on every changed group,
    so running instances are replaced; one already running is reported, not a failure.
  - Never launches or changes instances itself; see M(keyless.aws.ec2_instance_identity) and
    M(keyless.aws.ec2_fleet_info) for the running fleet, and M(keyless.aws.ec2_launch_template_identity) for
    templates by name.
author: keyless.aws maintainers (@keyless-aws)
options:
  names:
    description:
      - Select these Auto Scaling groups by name. Every name must exist, unless O(missing_groups=skip).
    type: list
    elements: str
  tags:
    description:
      - Select groups carrying these tags (tag key -> value or list of values). With O(names), only the named
        groups that also carry the tags.
    type: dict
  all_groups:
    description:
      - Select every Auto Scaling group of the region. An empty selector is refused unless this is V(true).
    type: bool
    default: false
  missing_groups:
    description:
      - What a name of O(names) that no group has does - V(fail) the task before any change, or V(skip) it (listed in
        RV(missing_groups)); the C(keyless.aws.ec2_identity) role skips them, since the names it gives come from instance
        tags, which outlive a deleted group.
    type: str
    choices: [fail, skip]
    default: fail
  instance_profile:
    description:
      - The instance profile new instances get, by name or ARN. It must exist (in check mode a missing profile
        is assumed to be created by an earlier task, with a warning).
    type: str
  http_tokens:
    description:
      - V(required) enforces IMDSv2 (session tokens) on the instances the groups launch.
    type: str
    choices: [optional, required]
  http_endpoint:
    choices: [enabled, disabled]
    type: str
    description:
      - C(MetadataOptions.HttpEndpoint) of the launched instances. Left out, a template's disabled endpoint stays
        disabled.
  http_put_response_hop_limit:
    type: int
    description:
      - C(MetadataOptions.HttpPutResponseHopLimit), 1 to 64. Containers on the launched instances need 2; left out,
        each template keeps its own.
  http_protocol_ipv6:
    choices: [enabled, disabled]
    type: str
    description:
      - C(MetadataOptions.HttpProtocolIpv6) of the launched instances.
  instance_metadata_tags:
    choices: [enabled, disabled]
    type: str
    description:
      - C(MetadataOptions.InstanceMetadataTags) of the launched instances (instance tags readable from IMDS).
  include_owned:
    description:
      - Converge groups owned by these services too. V(eks) is refused - EKS node groups change through EKS.
      - Any of V(elasticbeanstalk), V(batch), V(ecs).
    type: list
    elements: str
  convert_launch_configurations:
    description:
      - Create a launch template from the launch configuration of each selected group that uses one and point
        the group at it. With V(false) such a group is C(held).
    type: bool
    default: false
  converted_template_name:
    description:
      - The name of a launch template converted from a launch configuration. C({launch_configuration}) and
        C({group}) are replaced by the names. A template of that name that already holds the conversion is
        used; one that holds something else holds the group.
    type: str
    default: "{launch_configuration}"
  instance_refresh:
    description:
      - Start an instance refresh (C(Rolling), C(SkipMatching)) on every group this task changes. Check mode
        never starts one.
    type: bool
    default: false
  min_healthy_percentage:
    description:
      - The share of the group's desired capacity that stays in service during an instance refresh, 0 to 100.
    type: int
    default: 90
attributes:
  check_mode:
    support: full
    description: Makes no change; returns every version that would be created with its predicted number and
      every group change.
  diff_mode:
    support: full
    description: Shows, per changed group, the declared fields of each launch source before and after.
extends_documentation_fragment:
  - keyless.aws.aws
seealso:
  - module: keyless.aws.ec2_instance_identity
  - module: keyless.aws.ec2_launch_template_identity
  - module: keyless.aws.ec2_fleet_info
  - name: Migrate your Auto Scaling groups to launch templates
    description: How AWS maps a launch configuration to a launch template.
    link: https://docs.aws.amazon.com/autoscaling/ec2/userguide/migrate-to-launch-templates.html
"""

EXAMPLES = r"""
- name: Web groups launch with the app profile and IMDSv2 (hop limit 2 for containers)
  keyless.aws.autoscaling_group_identity:
    tags:
      app: web
    instance_profile: app-web
    http_tokens: required
    http_put_response_hop_limit: 2
  register: groups

- name: Two groups, converting their launch configurations and replacing running instances
  keyless.aws.autoscaling_group_identity:
    names: [api, batch-workers]
    http_tokens: required
    convert_launch_configurations: true
    converted_template_name: "{group}-converted"
    instance_refresh: true
    min_healthy_percentage: 75

- name: What would change in the whole region (check mode)
  keyless.aws.autoscaling_group_identity:
    all_groups: true
    http_tokens: required
  check_mode: true
  register: preview
"""

RETURN = r"""
groups:
  description: One entry per selected Auto Scaling group.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The group name.
      type: str
      sample: web
    owner:
      description: The service that owns the group (C(kind), C(name), C(service)), or null.
      type: dict
      sample: {"kind": "ecs", "name": "true", "service": "Amazon ECS"}
    launch_sources:
      description:
        - Each launch source - C(path) in the group, C(launch_template) (C(id), C(name)), C(version) as the group
          names it (null - none, that is C($Default)), C(version_after), C(resolves_to) and C(resolves_to_after)
          (version numbers), C(compliant), C(changed_fields), and C(before)/C(after) (the declared fields).
        - A launch configuration has C(path=LaunchConfigurationName) and C(launch_configuration).
      type: list
      elements: dict
      sample: [{"path": "LaunchTemplate", "launch_template": {"id": "lt-0123456789abcdef0", "name": "web"},
                "version": "3", "version_after": "5", "resolves_to": 3, "resolves_to_after": 5, "compliant": false,
                "changed_fields": ["MetadataOptions.HttpTokens"],
                "before": {"metadata_options": {"http_tokens": "optional"}},
                "after": {"metadata_options": {"http_tokens": "required"}}}]
    action:
      description: V(none), V(update_auto_scaling_group), V(new_template_versions) (the group names C($Latest) or C($Default)),
        V(convert_launch_configuration) or V(skip).
      type: str
      sample: update_auto_scaling_group
    status:
      description: V(unchanged), V(changed) (in check mode, would change), V(skipped), V(held) or V(failed).
      type: str
      sample: changed
    reason:
      description: Why, or what failed.
      type: str
      sample: "LaunchTemplate: web 3 -> 5"
    versions_created:
      description: The template versions created for this group (predicted numbers in check mode).
      type: list
      elements: dict
      sample: [{"template_id": "lt-0123456789abcdef0", "template_name": "web", "version": 5, "source_version": 3}]
    update:
      description: The C(UpdateAutoScalingGroup) request made (or that check mode would make), or null.
      type: dict
      sample: {"AutoScalingGroupName": "web", "LaunchTemplate": {"LaunchTemplateId": "lt-0123456789abcdef0", "Version": "5"}}
    conversion:
      description: The launch template converted from the launch configuration (C(launch_template_name), C(created),
        C(launch_configuration)), or null.
      type: dict
      sample: {"launch_template_name": "api-lc", "created": true, "launch_configuration": "api-lc"}
    proposed:
      description: For a held group, the change that was not made (C(launch_template_name),
        C(launch_template_data), C(update)), or null.
      type: dict
      sample: null
    instance_refresh:
      description: With O(instance_refresh), C(status) (V(started), V(in_progress), V(would_start)), C(id), C(reason).
      type: dict
      sample: {"status": "started", "id": "08b91cf7-8fa6-48af-b6a6-d227f40f1b9b", "reason": null}
templates:
  description: The launch templates that get versions - C(id), C(name), C(versions) (C(version), C(source_version),
    C(purpose) V(compliance) or V(keep_latest), C(changed_fields), C(groups)), C(default_version_before),
    C(default_version_after), C(status), C(reason).
  returned: always
  type: list
  elements: dict
  sample: [{"id": "lt-0123456789abcdef0", "name": "web", "default_version_before": 3, "default_version_after": 3,
            "versions": [{"version": 5, "source_version": 3, "purpose": "compliance", "groups": ["web"],
                          "changed_fields": ["MetadataOptions.HttpTokens"]}], "status": "changed",
            "reason": "version 5 from version 3 (compliance)"}]
converted_templates:
  description: The launch templates created from launch configurations (C(name), C(id) (null in check mode),
    C(launch_configuration), C(groups), C(status)).
  returned: always
  type: list
  elements: dict
  sample: []
summary:
  description: Counts of the groups by status, and of the calls' results.
  returned: always
  type: dict
  sample: {"total": 3, "changed": 1, "unchanged": 1, "skipped": 1, "held": 0, "failed": 0, "versions_created": 1,
           "templates_converted": 0, "groups_updated": 1, "instance_refreshes_started": 0}
instance_profile:
  description: The resolved instance profile, when given.
  returned: when instance_profile is given
  type: dict
  sample: {"name": "app-web", "arn": "arn:aws:iam::123456789012:instance-profile/app-web"}
missing_groups:
  description: With O(missing_groups=skip), the names of O(names) that no Auto Scaling group has.
  returned: always
  type: list
  elements: str
  sample: [web-asg-old]
failed_groups:
  description: The groups that failed, with the reason; the task fails when there are any.
  returned: always
  type: list
  elements: dict
  sample: []
"""

from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import TaskFailure
from ansible_collections.keyless.aws.plugins.module_utils.aws.module import aws_module, context, run_module
from ansible_collections.keyless.aws.plugins.module_utils.aws.plan import diff
from ansible_collections.keyless.aws.plugins.module_utils.ec2account.autoscaling import (
    DEFAULT_TEMPLATE_NAME,
    group_selector_argument_spec,
    observe,
    validate_options,
    validate_selector,
)
from ansible_collections.keyless.aws.plugins.module_utils.ec2account.autoscaling_apply import MIN_HEALTHY_DEFAULT, apply
from ansible_collections.keyless.aws.plugins.module_utils.ec2account.autoscaling_plan import plan
from ansible_collections.keyless.aws.plugins.module_utils.fleet.associations import validate_profile_option
from ansible_collections.keyless.aws.plugins.module_utils.fleet.metadata import (
    desired_fields,
    metadata_argument_spec,
    validate_metadata,
)
from ansible_collections.keyless.aws.plugins.module_utils.iam.profiles import resolve_instance_profile

STATUSES = ("changed", "unchanged", "skipped", "held", "failed")
SOURCE_KEYS = ("path", "launch_template", "launch_configuration", "version", "version_after", "resolves_to",
               "resolves_to_after", "compliant", "changed_fields", "before", "after")
GROUP_KEYS = ("name", "owner", "action", "status", "reason", "versions_created", "update", "conversion", "proposed",
              "instance_refresh")


def argument_spec():
    spec = group_selector_argument_spec()
    spec.update(metadata_argument_spec())
    spec.update(
        instance_profile=dict(type="str"),
        include_owned=dict(type="list", elements="str"),
        convert_launch_configurations=dict(type="bool", default=False),
        converted_template_name=dict(type="str", default=DEFAULT_TEMPLATE_NAME),
        instance_refresh=dict(type="bool", default=False),
        min_healthy_percentage=dict(type="int", default=MIN_HEALTHY_DEFAULT),
    )
    return spec


def validate(params):
    errors = validate_selector(params) + validate_options(params) + validate_metadata(params)
    errors.extend(validate_profile_option(params.get("instance_profile")))
    if params.get("instance_profile") is None and not desired_fields(params):
        errors.append("nothing to ensure: give instance_profile and/or a metadata option (http_tokens, http_endpoint, "
                      "http_put_response_hop_limit, http_protocol_ipv6, instance_metadata_tags)")
    return [e for e in errors if e]


def public_group(item):
    out = {k: item.get(k) for k in GROUP_KEYS}
    out["launch_sources"] = [{k: s.get(k) for k in SOURCE_KEYS if k in s} for s in item["sources"]]
    return out


def public_template(template):
    keys = ("id", "name", "default_version_before", "default_version_after", "status", "reason")
    out = {k: template.get(k) for k in keys}
    out["versions"] = [{k: v[k] for k in ("version", "source_version", "purpose", "changed_fields", "groups")}
                       for v in template["versions"]]
    return out


def summarize(planned):
    groups = planned["groups"]
    summary = {"total": len(groups)}
    summary.update({status: sum(1 for g in groups if g["status"] == status) for status in STATUSES})
    summary.update(
        versions_created=sum(len(t["versions"]) for t in planned["templates"] if t["status"] == "changed"),
        templates_converted=sum(1 for c in planned["conversions"] if c["status"] == "changed"),
        groups_updated=sum(1 for g in groups if g["status"] == "changed" and g["update"]),
        instance_refreshes_started=sum(1 for g in groups if (g["instance_refresh"] or {}).get("status") == "started"))
    return summary


def _declared(item, side):
    return {"launch_sources": {s["path"]: dict(
        version=s.get("version" if side == "before" else "version_after") or s.get("launch_configuration"),
        **(s.get(side) or {})) for s in item["sources"]}}


def desired_identity(module, ctx):
    """(desired {"metadata", "instance_profile"}, the resolved profile's name and ARN or None); one GetInstanceProfile."""
    name = module.params.get("instance_profile")
    profile = resolve_instance_profile(ctx.client("iam"), name, module.check_mode, require_role=False) if name else None
    if profile and not profile["exists"]:
        module.warn("instance_profile %s does not exist yet: check mode assumes an earlier task creates it" % name)
    desired = {"metadata": desired_fields(module.params), "instance_profile": profile}
    return desired, ({"name": profile["name"], "arn": profile["arn"]} if profile else None)


def converge(module, progress):
    params = module.params
    ctx = context(module, validate(params), require_region=True)
    ec2, asg = ctx.client("ec2"), ctx.client("autoscaling")
    desired, profile = desired_identity(module, ctx)
    result = {"instance_profile": profile} if profile else {}
    shapes = {"data": ec2.meta.service_model.shape_for("RequestLaunchTemplateData"),
              "policy": asg.meta.service_model.shape_for("MixedInstancesPolicy")}
    observed = observe(ec2, asg, params)
    planned = plan(observed, desired, params, shapes)
    if module.check_mode:
        failed = [g for g in planned["groups"] if g["status"] == "failed"]
        if params["instance_refresh"]:
            for item in planned["groups"]:
                if item["status"] == "changed":
                    item["instance_refresh"] = {"status": "would_start", "id": None, "reason": None}
    else:
        failed = apply(ctx.client, planned, progress, params, shapes["policy"])
    changed = [g for g in planned["groups"] if g["status"] == "changed"]
    result.update(
        changed=bool(changed) or progress.changed,
        groups=[public_group(g) for g in planned["groups"]],
        templates=[public_template(t) for t in planned["templates"]],
        converted_templates=[{k: c.get(k) for k in ("name", "id", "launch_configuration", "groups", "status")}
                             for c in planned["conversions"]],
        summary=summarize(planned),
        missing_groups=observed["missing_groups"],
        failed_groups=[{"name": f["name"], "reason": f["reason"]} for f in failed],
        diff=diff({"groups": {g["name"]: _declared(g, "before") for g in changed}},
                  {"groups": {g["name"]: _declared(g, "after") for g in changed}}),
    )
    if failed:
        raise TaskFailure("%d Auto Scaling group(s) failed: %s" % (len(failed), "; ".join(
            "%s: %s" % (f["name"], f["reason"]) for f in failed)), result)
    return result


def main():
    module = aws_module(argument_spec())
    run_module(module, lambda progress: converge(module, progress))


if __name__ == "__main__":
    main()
