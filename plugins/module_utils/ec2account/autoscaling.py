# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Auto Scaling groups that launch instances with the instance profile and the IMDS options: what is there.
Private to the collection: no stable API.

An Auto Scaling group launches from launch sources: its LaunchTemplate, or the launch template of its
MixedInstancesPolicy (LaunchTemplate.LaunchTemplateSpecification) and of every override
(Overrides[i].LaunchTemplateSpecification), each naming a version (a number, $Latest or $Default; no Version is
$Default), or a launch configuration (which cannot change). A scale-out launches what the source names, so a
fleet converged by hand is undone by the next one unless the sources are converged too.

This file selects the groups, validates the options, reads (observe) and judges; autoscaling_plan.py decides
what to change (pure), autoscaling_apply.py makes the calls.

    group_selector_argument_spec() -> dict       names, tags, all_groups
    validate_selector(params) -> [error]          pure; validate_options(params) -> [error] (include_owned, ...)
    select_groups(asg, params) -> ([group], [missing name])   DescribeAutoScalingGroups items sorted by name;
                                                  missing names fail, unless missing_groups=skip
    observe(ec2, asg, params) -> observed         reads only (params: names/tags/all_groups, converted_template_name):
        {"groups": [DescribeAutoScalingGroups item],
         "templates": {template id: {"template": {LaunchTemplateId, LaunchTemplateName, LatestVersionNumber,
                                                 DefaultVersionNumber, Operator},
                                     "versions": {number: DescribeLaunchTemplateVersions item}}},
         "template_ids": {template name: id}, "launch_configurations": {name: DescribeLaunchConfigurations item},
         "existing": {template name: {"default": version item}}}   (templates a conversion would name)
        The versions held per template: every one a group names, and the template's $Latest and $Default
        (managed_sources.resolve_versions, one DescribeLaunchTemplateVersions per template).
    templates_by_id(resolved) -> {template id: {"template", "versions"}}   pure: observe's "templates" from
        managed_sources.resolve_versions' answer (the organization guardrail's preflight reads them the same way)
    launch_sources(group) -> [source]             pure: {"path", "template_id", "template_name", "version" (as
        the group names it, None for none), "ref" ($Latest | $Default | "<n>")}, or for a launch configuration
        {"path": "LaunchConfigurationName", "launch_configuration"}
    group_owner(group) -> owner or None           pure: fleet.ownership.owner_of of its tags ("autoscaling" is not an
        owner), or EKS by its group name eks-<node group>-<uuid>; {"kind", "name", "service", "converge", ...}
    converted_name(name_format, group) -> str     pure: the name of the template converted from its launch
        configuration (converted_template_name with {launch_configuration} and {group})
    judge_source(version, desired, shape=None) -> {"compliant", "changes", "changed_fields", "before"}   pure: one
        DescribeLaunchTemplateVersions item against desired {"instance_profile": resolve_instance_profile() result or
        None, "metadata": {API field: value} of the options given}
    LATEST, DEFAULT                               the version references "$Latest" and "$Default"

AWS facts (EC2 Auto Scaling API reference and user guide):
- DescribeAutoScalingGroups: "By default, you can only specify up to 50 names"; filters tag:<key> (values OR'ed),
  several filters AND'ed; MaxRecords up to 100. DescribeLaunchConfigurations: at most 50 names a call.
- LaunchTemplateSpecification.Version: "The default value is $Default"; AWS shows no Version when none was given.
- EKS names the Auto Scaling group of a managed node group eks-<node group name>-<uuid>.
"""

from __future__ import annotations

import re

from ansible_collections.keyless.aws.plugins.module_utils.aws import rules
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import paginate
from ansible_collections.keyless.aws.plugins.module_utils.ec2account.launch_templates import (
    declared_view,
    selector_scope_errors,
    tag_filters,
    tag_selector_errors,
    version_changes,
)
from ansible_collections.keyless.aws.plugins.module_utils.ec2account.managed_sources import (
    resolve_versions,
    template_ref,
)
from ansible_collections.keyless.aws.plugins.module_utils.fleet.ownership import owner_of
from ansible_collections.keyless.aws.plugins.module_utils.fleet.selection import chunks

GROUP_NAMES_PER_CALL = 50
CONFIGURATION_NAMES_PER_CALL = 50
GROUP_NAME_MAX = 255
# EKS names the Auto Scaling group of a managed node group eks-<node group name>-<uuid>
EKS_GROUP_NAME = re.compile(r"^eks-.+-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
INCLUDABLE_OWNERS = ("elasticbeanstalk", "batch", "ecs")
DEFAULT_TEMPLATE_NAME = "{launch_configuration}"
LATEST, DEFAULT = "$Latest", "$Default"


# ---------------------------------------------------------------- selection and options

def group_selector_argument_spec():
    return dict(names=dict(type="list", elements="str"), tags=dict(type="dict"),
                all_groups=dict(type="bool", default=False),
                missing_groups=dict(type="str", choices=["fail", "skip"], default="fail"))


def _bad_text(value, high):
    return not isinstance(value, str) or not 1 <= len(value) <= high or \
        any(ord(c) < 32 and c not in "\t\r\n" for c in value)


def validate_selector(params):
    names = params.get("names") or []
    bad = [n for n in names if _bad_text(n, GROUP_NAME_MAX)]
    errors = ["names has invalid Auto Scaling group names %s: a name is 1 to %d characters, no control characters"
              % (", ".join(repr(n) for n in bad[:10]), GROUP_NAME_MAX)] if bad else []
    errors.extend(tag_selector_errors(params.get("tags")))
    return errors + selector_scope_errors(bool(names or params.get("tags")), params.get("all_groups"), "all_groups",
                                          "names or tags", "Auto Scaling group")


def validate_options(params):
    errors = []
    included = params.get("include_owned") or []
    if "eks" in included:
        errors.append("include_owned has 'eks': an EKS node group's Auto Scaling group and launch template belong to "
                      "EKS (change them through the node group: a new launch template version and "
                      "UpdateNodegroupVersion), never directly")
    bad = [v for v in included if v not in INCLUDABLE_OWNERS and v != "eks"]
    if bad:
        errors.append("include_owned has %s: use any of %s" % (", ".join(repr(v) for v in bad),
                                                               ", ".join(INCLUDABLE_OWNERS)))
    low = params.get("min_healthy_percentage")
    if low is not None and (isinstance(low, bool) or not isinstance(low, int) or not 0 <= low <= 100):
        errors.append("min_healthy_percentage=%r: a whole number from 0 to 100" % (low,))
    name_format = params.get("converted_template_name") or DEFAULT_TEMPLATE_NAME
    try:
        name_format.format(launch_configuration="lc-x", group="group-x")
    except (KeyError, IndexError, ValueError):
        errors.append("converted_template_name=%r: a name with the placeholders {launch_configuration} and/or "
                      "{group} and no others" % (name_format,))
    return errors


def _has_tags(group, tags):
    have = {t.get("Key"): t.get("Value") for t in group.get("Tags") or []}
    for key, value in (tags or {}).items():
        values = [str(v) for v in (value if isinstance(value, list) else [value])]
        if have.get(key) not in values:
            return False
    return True


def select_groups(asg, params):
    """(the selected groups (DescribeAutoScalingGroups items) sorted by name, the names no group has); names that do
    not exist fail unless missing_groups=skip."""
    names = sorted(set(params.get("names") or []))
    if not names:
        filters = tag_filters(params.get("tags"))
        groups = paginate(asg, "DescribeAutoScalingGroups", "AutoScalingGroups", {"Filters": filters} if filters else {},
                          resource="tags" if filters else "all groups")
        return sorted(groups, key=lambda g: g["AutoScalingGroupName"]), []
    found = {}
    for chunk in chunks(names, GROUP_NAMES_PER_CALL):
        for group in paginate(asg, "DescribeAutoScalingGroups", "AutoScalingGroups", {"AutoScalingGroupNames": chunk},
                              resource=", ".join(chunk)):
            found[group["AutoScalingGroupName"]] = group
    missing = [n for n in names if n not in found]
    if missing and params.get("missing_groups") != "skip":
        raise AwsCallError("DescribeAutoScalingGroups", "ValidationError",
                           "names %s: no such Auto Scaling group in this region" % ", ".join(missing), ", ".join(missing),
                           hint="check the names and the region")
    return [found[n] for n in names if n in found and _has_tags(found[n], params.get("tags"))], missing


# ---------------------------------------------------------------- launch sources and owners (pure)

def _source(path, spec):
    version = spec.get("Version")
    return {"path": path, "template_id": spec.get("LaunchTemplateId"), "template_name": spec.get("LaunchTemplateName"),
            "version": version, "ref": version or DEFAULT}


def launch_sources(group):
    """Every launch source of a group, in the order AWS lists them."""
    if group.get("LaunchConfigurationName") and not group.get("LaunchTemplate") and \
            not group.get("MixedInstancesPolicy"):
        return [{"path": "LaunchConfigurationName", "launch_configuration": group["LaunchConfigurationName"]}]
    if group.get("LaunchTemplate"):
        return [_source("LaunchTemplate", group["LaunchTemplate"])]
    policy = (group.get("MixedInstancesPolicy") or {}).get("LaunchTemplate") or {}
    out = []
    if policy.get("LaunchTemplateSpecification"):
        out.append(_source("MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification",
                           policy["LaunchTemplateSpecification"]))
    for index, override in enumerate(policy.get("Overrides") or []):
        if override.get("LaunchTemplateSpecification"):
            out.append(_source("MixedInstancesPolicy.LaunchTemplate.Overrides[%d].LaunchTemplateSpecification" % index,
                               override["LaunchTemplateSpecification"]))
    return out


def group_owner(group):
    """The service that owns the group (ownership.owner_of of its tags), or EKS by its group name; None: nobody."""
    owner = owner_of(group.get("Tags") or [])
    if owner and owner["kind"] == "autoscaling":
        owner = None
    if owner is None and EKS_GROUP_NAME.match(group.get("AutoScalingGroupName") or ""):
        owner = owner_of({"eks:nodegroup-name": group["AutoScalingGroupName"][4:-37]})
    return owner


# ---------------------------------------------------------------- observe (reads only)

def templates_by_id(resolved):
    """{template id: {"template": {LaunchTemplateId, LaunchTemplateName, LatestVersionNumber, DefaultVersionNumber,
    Operator}, "versions": {number: item}}} from resolve_versions' answer (a template gone is left out)."""
    out = {}
    for answer in resolved.values():
        for item in (answer["version"], answer["latest"]):
            if item is None:
                continue
            entry = out.setdefault(item["LaunchTemplateId"], {"template": {
                "LaunchTemplateId": item["LaunchTemplateId"], "LaunchTemplateName": item["LaunchTemplateName"],
                "LatestVersionNumber": 0, "DefaultVersionNumber": None, "Operator": item.get("Operator")},
                "versions": {}})
            entry["versions"][item["VersionNumber"]] = item
            template = entry["template"]
            template["LatestVersionNumber"] = max(template["LatestVersionNumber"], item["VersionNumber"])
            if item.get("DefaultVersion"):
                template["DefaultVersionNumber"] = item["VersionNumber"]
    return out


def converted_name(name_format, group):
    """The name of the launch template converted from the group's launch configuration (converted_template_name)."""
    return (name_format or DEFAULT_TEMPLATE_NAME).format(launch_configuration=group.get("LaunchConfigurationName"),
                                                         group=group["AutoScalingGroupName"])


def observe(ec2, asg, params):
    """Everything plan() judges, read with Describe calls only (see the module docstring): the groups, the
    versions their sources name with each template's $Latest and $Default (managed_sources.resolve_versions, one
    call per template), their launch configurations, and the templates a conversion would name."""
    # missing: names that no group has (missing_groups=skip: e.g. a group deleted after its instances were tagged)
    groups, missing = select_groups(asg, params)
    sources = [s for g in groups for s in launch_sources(g)]
    refs = []
    for source in (s for s in sources if "template_id" in s):
        spec = {"LaunchTemplateId": source["template_id"], "LaunchTemplateName": source["template_name"]}
        refs.extend(template_ref(dict(spec, Version=v)) for v in (source["ref"], LATEST, DEFAULT))
    templates = templates_by_id(resolve_versions(ec2, refs, latest=True)) if refs else {}
    names = sorted({s["launch_configuration"] for s in sources if "launch_configuration" in s})
    configurations = {}
    for chunk in chunks(names, CONFIGURATION_NAMES_PER_CALL):
        for item in paginate(asg, "DescribeLaunchConfigurations", "LaunchConfigurations",
                             {"LaunchConfigurationNames": chunk}, resource=", ".join(chunk)):
            configurations[item["LaunchConfigurationName"]] = item
    wanted = sorted({converted_name(params.get("converted_template_name"), g) for g in groups
                     if any("launch_configuration" in s for s in launch_sources(g))})
    existing = {}
    resolved = resolve_versions(ec2, [{"id": None, "name": n, "version": DEFAULT} for n in wanted
                                      if rules.is_launch_template_name(n)])
    for answer in resolved.values():
        if answer["version"] is not None:
            existing[answer["version"]["LaunchTemplateName"]] = {"default": answer["version"]}
    return {"groups": groups, "templates": templates,
            "template_ids": {e["template"]["LaunchTemplateName"]: i for i, e in templates.items()},
            "launch_configurations": configurations, "existing": existing, "missing_groups": missing}


# ---------------------------------------------------------------- judge (pure)

def judge_source(version, desired, shape=None):
    """Whether one version's data launches what `desired` asks ({"instance_profile", "metadata"})."""
    data = version.get("LaunchTemplateData") or {}
    changes, changed_fields = version_changes(data, desired, shape)
    return {"compliant": not changes, "changes": changes, "changed_fields": changed_fields,
            "before": declared_view(data, desired)}
