# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Auto Scaling groups: the plan (pure) that converges their launch sources to the instance profile and the IMDS
options. Private to the collection: no stable API.

Judges what autoscaling.observe() read (autoscaling.py: launch_sources, group_owner, judge_source) and decides, per
group, the new launch template versions, the default version, the UpdateAutoScalingGroup request and the launch
template converted from a launch configuration; autoscaling_apply.py makes the calls. No AWS call here.

    plan(observed, desired, options, shapes=None) -> planned   pure; options: include_owned,
        convert_launch_configurations, converted_template_name; shapes: {"data": ec2 RequestLaunchTemplateData,
        "policy": autoscaling MixedInstancesPolicy} (botocore shapes; None: no projection)
        {"groups": [group item], "templates": [template item], "conversions": [conversion item]}
        group item: {"name", "arn", "owner" ({kind, name, service} or None), "sources": [source item], "action"
                     (none | update_auto_scaling_group | new_template_versions | convert_launch_configuration | skip),
                     "status" (unchanged | changed | skipped | held | failed; in check mode changed = would change),
                     "reason", "versions_created": [{template_id, template_name, version, source_version}],
                     "update": UpdateAutoScalingGroup request or None, "conversion": {launch_template_name, created,
                     launch_configuration} or None, "proposed": {launch_template_name, launch_template_data, update}
                     (held launch configurations) or None, "instance_refresh": None, private keys "_group", ...}
        source item: {"path", "launch_template": {id, name}, "version", "ref", "resolves_to", "compliant",
                      "changed_fields", "before", "after", "version_after", "resolves_to_after"}; a launch
                      configuration's: {"path", "launch_configuration", "compliant", "before", "after", ...}
        template item: {"id", "name", "latest_version_before", "default_version_before", "default_version_after",
                        "versions": [{source_version, version (predicted), data, purpose (compliance | keep_latest),
                        changed_fields, groups}], "targets": {source number: version it becomes}, "status", "reason"}
        conversion item: {"name", "launch_configuration", "data", "id", "groups", "status"}
    template_data_from_configuration(lc, desired, shape=None) -> LaunchTemplateData   pure
    group_update(item, policy_shape=None) -> UpdateAutoScalingGroup request or None   pure

AWS facts (EC2 Auto Scaling API reference and user guide):
- LaunchTemplateSpecification.Version: "The default value is $Default"; AWS shows no Version when none was given.
- UpdateAutoScalingGroup with LaunchTemplate replaces the launch configuration ("Migrate your Auto Scaling groups
  to launch templates"); a MixedInstancesPolicy is sent whole (LaunchTemplate with its specification and every
  override, InstancesDistribution), each specification with either LaunchTemplateId or LaunchTemplateName.
- The last version created is $Latest: versions for other consumers are created first, the one built from the
  latest version last; when the latest was not a source, a copy of it comes last, so $Latest launches what it did.
- An Auto Scaling group with an Operator is managed by that service principal: only it may change the group.
"""

from __future__ import annotations

import copy

from ansible_collections.keyless.aws.plugins.module_utils.aws import rules
from ansible_collections.keyless.aws.plugins.module_utils.ec2account.autoscaling import (
    DEFAULT,
    LATEST,
    converted_name,
    group_owner,
    judge_source,
    launch_sources,
)
from ansible_collections.keyless.aws.plugins.module_utils.ec2account.launch_templates import (
    copy_data,
    declared_view,
    managed_reason,
    profile_request,
    project,
    request_data,
)
from ansible_collections.keyless.aws.plugins.module_utils.fleet.metadata import full_request


# ---------------------------------------------------------------- conversion of a launch configuration (pure)

def template_data_from_configuration(lc, desired, shape=None):
    """The LaunchTemplateData of a launch configuration, mapped the way AWS's "Migrate your Auto Scaling groups to
    launch templates" does, with the desired instance profile and metadata options applied."""
    data = {}
    for key in ("ImageId", "InstanceType", "KeyName", "KernelId", "RamdiskId", "UserData"):
        if lc.get(key):
            data[key] = lc[key]
    if "EbsOptimized" in lc:
        data["EbsOptimized"] = bool(lc["EbsOptimized"])
    groups = list(lc.get("SecurityGroups") or [])
    if lc.get("AssociatePublicIpAddress") is not None:
        data["NetworkInterfaces"] = [{"DeviceIndex": 0, "AssociatePublicIpAddress": bool(lc["AssociatePublicIpAddress"]),
                                      "DeleteOnTermination": True}]
        if groups:
            data["NetworkInterfaces"][0]["Groups"] = groups
    elif groups and all(g.startswith("sg-") for g in groups):
        data["SecurityGroupIds"] = groups
    elif groups:
        data["SecurityGroups"] = groups
    mappings = []
    for mapping in lc.get("BlockDeviceMappings") or []:
        out = {"DeviceName": mapping["DeviceName"]}
        if mapping.get("VirtualName"):
            out["VirtualName"] = mapping["VirtualName"]
        if mapping.get("NoDevice"):
            out["NoDevice"] = ""
        elif mapping.get("Ebs"):
            out["Ebs"] = {k: v for k, v in mapping["Ebs"].items() if v is not None}
        mappings.append(out)
    if mappings:
        data["BlockDeviceMappings"] = mappings
    if "InstanceMonitoring" in lc:
        data["Monitoring"] = {"Enabled": bool((lc["InstanceMonitoring"] or {}).get("Enabled"))}
    if lc.get("SpotPrice"):
        data["InstanceMarketOptions"] = {"MarketType": "spot", "SpotOptions": {"MaxPrice": lc["SpotPrice"]}}
    if lc.get("PlacementTenancy"):
        data["Placement"] = {"Tenancy": lc["PlacementTenancy"]}
    profile = desired.get("instance_profile")
    if profile is not None:
        data["IamInstanceProfile"] = profile_request(profile)
    elif lc.get("IamInstanceProfile"):
        value = lc["IamInstanceProfile"]
        data["IamInstanceProfile"] = {"Arn": value} if value.startswith("arn:") else {"Name": value}
    metadata = full_request(lc.get("MetadataOptions") or {}, desired.get("metadata") or {})
    if metadata:
        data["MetadataOptions"] = metadata
    return request_data(data, shape)


# ---------------------------------------------------------------- plan (pure)

def _number(template, ref):
    if ref == LATEST:
        return template["LatestVersionNumber"]
    if ref == DEFAULT:
        return template["DefaultVersionNumber"]
    try:
        return int(ref)
    except (TypeError, ValueError):
        return None


def _group_item(group):
    return {"name": group["AutoScalingGroupName"], "arn": group.get("AutoScalingGroupARN"), "owner": None,
            "sources": [], "action": "none", "status": "unchanged", "reason": "every launch source is compliant",
            "versions_created": [], "update": None, "conversion": None, "proposed": None, "instance_refresh": None,
            "_group": group}


def _owner_view(owner):
    return {"kind": owner["kind"], "name": owner["name"], "service": owner["service"]} if owner else None


def _skip_reason(group, owner, include_owned):
    if owner and (owner["kind"] == "eks" or owner["kind"] not in include_owned):
        label = "%s %s" % (owner["service"], owner["name"]) if owner.get("name") else owner["service"]
        extra = "" if owner["kind"] == "eks" else ", or name %r in include_owned" % owner["kind"]
        return "owned by %s: converge %s instead%s" % (label, owner["converge"], extra)
    if group.get("Operator"):
        return "the group is managed by %s: only it can change the group" % (
            group["Operator"].get("Principal") or "an AWS service")
    if group.get("Status"):
        return "the group is being deleted (%s)" % group["Status"]
    return None


def _judge_sources(item, observed, desired, shape):
    """Resolve and judge each launch-template source of a group item (fills item["sources"])."""
    for source in launch_sources(item["_group"]):
        template_id = source["template_id"] or observed["template_ids"].get(source["template_name"])
        entry = observed["templates"].get(template_id)
        out = {"path": source["path"], "launch_template": {"id": template_id, "name": source["template_name"]},
               "version": source["version"], "ref": source["ref"], "resolves_to": None, "compliant": None,
               "changed_fields": [], "before": None, "after": None, "version_after": source["version"],
               "resolves_to_after": None, "_changes": {}, "_data": {}}
        item["sources"].append(out)
        if entry is None:
            item.update(status="failed", reason="%s names launch template %s, which does not exist: the group cannot "
                        "launch" % (source["path"], template_id or source["template_name"]))
            continue
        template = entry["template"]
        out["launch_template"]["name"] = template["LaunchTemplateName"]
        number = _number(template, source["ref"])
        version = entry["versions"].get(number)
        if version is None:
            item.update(status="failed", reason="%s names version %s of launch template %s, which does not exist" % (
                source["path"], source["ref"], template["LaunchTemplateName"]))
            continue
        judged = judge_source(version, desired, shape)
        out.update(resolves_to=number, compliant=judged["compliant"], changed_fields=judged["changed_fields"],
                   before=judged["before"], after=judged["before"], resolves_to_after=number, _changes=judged["changes"],
                   _data=version.get("LaunchTemplateData") or {})
        if not judged["compliant"] and (template.get("Operator") or {}).get("Managed"):
            item.update(status="skipped", reason="%s: %s" % (source["path"], managed_reason(template)))


def _consumers(items, template_id):
    return [(item, s) for item in items for s in item["sources"]
            if (s.get("launch_template") or {}).get("id") == template_id]


def _hold_conflicts(items, observed):
    """Hold actionable groups whose change would move what a group left alone launches ($Default / $Latest of a
    shared template); repeat until stable (a held group is left alone too)."""
    while True:
        held = False
        for template_id in observed["templates"]:
            consumers = _consumers(items, template_id)
            left_alone = {s["ref"] for item, s in consumers if item["status"] in ("skipped", "held", "failed")}
            for item, source in consumers:
                if item["status"] != "unchanged" or source["compliant"] is not False:
                    continue
                if source["ref"] in (DEFAULT, LATEST) and source["ref"] in left_alone:
                    others = sorted({i["name"] for i, s in consumers if s["ref"] == source["ref"] and i is not item
                                     and i["status"] in ("skipped", "held", "failed")})
                    item.update(status="held", reason="%s launches %s of launch template %s, which %s also launches "
                                "and is left alone: pin a version, or converge them together" % (
                                    source["path"], source["ref"], source["launch_template"]["name"], ", ".join(others)))
                    held = True
        if not held:
            return


def _plan_template(entry, consumers, protected, data_shape):
    """The versions one template needs for its actionable consumers, in the order that keeps $Latest right;
    protected: the version references of the groups left alone that launch from it."""
    template = entry["template"]
    latest, default = template["LatestVersionNumber"], template["DefaultVersionNumber"]
    sources = {}
    for _item, source in consumers:
        if source["compliant"] is False:
            sources.setdefault(source["resolves_to"], source["_changes"])
    out = {"id": template["LaunchTemplateId"], "name": template["LaunchTemplateName"], "latest_version_before": latest,
           "default_version_before": default, "default_version_after": default, "versions": [], "targets": {},
           "status": "changed", "reason": None}
    latest_data = request_data(entry["versions"][latest].get("LaunchTemplateData") or {}, data_shape) \
        if latest in entry["versions"] else None
    order = sorted(n for n in sources if n != latest) + ([latest] if latest in sources else [])
    for number in order:
        data = sources[number]
        source_data = request_data(entry["versions"][number].get("LaunchTemplateData") or {}, data_shape)
        if number != latest and latest_data == dict(source_data, **data):
            out["targets"][number] = latest  # the latest version already is this change (an earlier run)
            continue
        predicted = latest + len(out["versions"]) + 1
        out["versions"].append({"source_version": number, "version": predicted, "data": data, "purpose": "compliance",
                                "changed_fields": sorted({f for _i, s in consumers if s["resolves_to"] == number
                                                          for f in s["changed_fields"]}),
                                "groups": sorted({i["name"] for i, s in consumers if s["resolves_to"] == number})})
        out["targets"][number] = predicted
    if out["versions"] and (out["versions"][-1]["source_version"] != latest or LATEST in protected):
        keep = copy_data(latest_data)
        out["versions"].append({"source_version": latest, "version": latest + len(out["versions"]) + 1, "data": keep,
                                "purpose": "keep_latest", "changed_fields": [], "groups": sorted(
                                    {i["name"] for i, s in consumers if s["ref"] == LATEST})})
    if any(s["ref"] == DEFAULT and s["compliant"] is False for _i, s in consumers):
        out["default_version_after"] = out["targets"][default]
    if not out["versions"] and out["default_version_after"] == default:
        out["status"] = "unchanged"
    reasons = ["version %d from version %d (%s)" % (v["version"], v["source_version"], (
        "compliance" if v["purpose"] == "compliance" else "a copy, so $Latest launches what it did"))
        for v in out["versions"]]
    if out["default_version_after"] != default:
        reasons.append("default version %d -> %d" % (default, out["default_version_after"]))
    out["reason"] = "; ".join(reasons)
    return out


def _spec(original, template_id, version):
    spec = {"LaunchTemplateId": template_id} if original.get("LaunchTemplateId") else \
        {"LaunchTemplateName": original.get("LaunchTemplateName")}
    if version is not None:
        spec["Version"] = version
    return spec


def group_update(item, policy_shape=None):
    """The UpdateAutoScalingGroup request that points the group's pinned sources at their new versions (None when
    none moves): LaunchTemplate, or the whole MixedInstancesPolicy with the moved specifications replaced."""
    moved = {s["path"]: s for s in item["sources"] if s["version_after"] != s["version"]}
    if not moved:
        return None
    group = item["_group"]
    name = group["AutoScalingGroupName"]
    if "LaunchTemplate" in moved:
        source = moved["LaunchTemplate"]
        return {"AutoScalingGroupName": name, "LaunchTemplate": _spec(group["LaunchTemplate"],
                                                                      source["launch_template"]["id"],
                                                                      source["version_after"])}
    policy = copy.deepcopy(group["MixedInstancesPolicy"])
    by_path = {s["path"]: s for s in item["sources"]}
    lt = policy["LaunchTemplate"]
    specs = [("MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification", lt, "LaunchTemplateSpecification")]
    specs += [("MixedInstancesPolicy.LaunchTemplate.Overrides[%d].LaunchTemplateSpecification" % i, o,
               "LaunchTemplateSpecification") for i, o in enumerate(lt.get("Overrides") or [])]
    for path, holder, key in specs:
        if key in holder and path in by_path:
            source = by_path[path]
            holder[key] = _spec(holder[key], source["launch_template"]["id"], source["version_after"])
    return {"AutoScalingGroupName": name, "MixedInstancesPolicy": project(policy, policy_shape)}


def _apply_targets(item, plans):
    for source in item["sources"]:
        template = plans.get(source["launch_template"]["id"])
        if source["compliant"] is not False or template is None:
            continue
        target = template["targets"][source["resolves_to"]]
        source["after"] = declared_view(dict(source["_data"], **source["_changes"]), item["_desired"])
        if source["ref"] == LATEST:
            source["resolves_to_after"] = template["versions"][-1]["version"] if template["versions"] else target
        elif source["ref"] == DEFAULT:
            source["resolves_to_after"] = template["default_version_after"]
        else:
            source["resolves_to_after"] = target
            source["version_after"] = str(target)
        seen = {(c["template_id"], c["version"]) for c in item["versions_created"]}
        item["versions_created"].extend(
            {"template_id": template["id"], "template_name": template["name"], "version": v["version"],
             "source_version": v["source_version"]} for v in template["versions"]
            if v["source_version"] == source["resolves_to"] and v["purpose"] == "compliance"
            and (template["id"], v["version"]) not in seen)


def _plan_conversion(item, observed, desired, options, shapes, conversions):
    group = item["_group"]
    lc_name = group["LaunchConfigurationName"]
    lc = observed["launch_configurations"].get(lc_name)
    source = {"path": "LaunchConfigurationName", "launch_configuration": lc_name, "compliant": None, "before": None,
              "after": None, "changed_fields": []}
    item["sources"].append(source)
    if lc is None:
        item.update(status="failed", reason="launch configuration %s does not exist" % lc_name)
        return
    current = {"IamInstanceProfile": ({"Arn": lc["IamInstanceProfile"]} if str(lc.get("IamInstanceProfile")).startswith(
        "arn:") else {"Name": lc["IamInstanceProfile"]}) if lc.get("IamInstanceProfile") else None,
        "MetadataOptions": lc.get("MetadataOptions") or {}}
    judged = judge_source({"LaunchTemplateData": current}, desired)
    name = converted_name(options.get("converted_template_name"), group)
    data = template_data_from_configuration(lc, desired, shapes.get("data"))
    source.update(compliant=judged["compliant"], before=judged["before"], changed_fields=judged["changed_fields"],
                  after=declared_view(data, desired))
    if judged["compliant"]:
        source["after"] = judged["before"]
        item.update(status="unchanged", action="none", reason="launch configuration %s already launches compliant "
                    "instances (it cannot change; convert it when its other settings need to)" % lc_name)
        return
    update = {"AutoScalingGroupName": group["AutoScalingGroupName"],
              "LaunchTemplate": {"LaunchTemplateName": name, "Version": DEFAULT}}
    proposal = {"launch_template_name": name, "launch_template_data": data, "update": update}
    if not rules.is_launch_template_name(name):
        item.update(status="held", proposed=proposal, reason="launch configurations cannot change; the template name "
                    "%r is not a valid launch template name (3 to 128 letters, digits and ( ) . - / _): set "
                    "converted_template_name" % name)
        return
    existing = observed["existing"].get(name)
    reuse = False
    if existing is not None:
        default = request_data((existing.get("default") or {}).get("LaunchTemplateData") or {}, shapes.get("data"))
        if default != data:
            item.update(status="held", proposed=proposal, reason="launch template %s exists and its default version "
                        "is not this launch configuration's conversion: set converted_template_name to another name" % name)
            return
        reuse = True
    if name in conversions and conversions[name]["data"] != data:
        item.update(status="held", proposed=proposal, reason="launch template %s is the conversion of launch "
                    "configuration %s already: use {group} or {launch_configuration} in converted_template_name" % (
                        name, conversions[name]["launch_configuration"]))
        return
    if not options.get("convert_launch_configurations"):
        item.update(status="held", proposed=proposal, action="convert_launch_configuration",
                    reason="launch configuration %s cannot change: set convert_launch_configurations=true to create "
                    "launch template %s from it and point the group at its $Default version" % (lc_name, name))
        return
    if not reuse:
        conversion = conversions.setdefault(name, {"name": name, "launch_configuration": lc_name, "data": data,
                                                   "id": None, "groups": [], "status": "changed"})
        conversion["groups"].append(item["name"])
    item.update(status="changed", action="convert_launch_configuration", update=update, conversion={
        "launch_template_name": name, "created": not reuse, "launch_configuration": lc_name},
        reason="launch template %s %s launch configuration %s; the group launches its $Default version" % (
            name, "converted from" if not reuse else "(converted earlier) from", lc_name))
    source["version_after"] = DEFAULT


def plan(observed, desired, options, shapes=None):
    """What to do with each observed group (pure).

    desired: {"instance_profile": resolve_instance_profile() result or None, "metadata": {API field: value}}
    options: include_owned, convert_launch_configurations, converted_template_name, instance_refresh
    shapes: {"data": ec2 RequestLaunchTemplateData shape, "policy": autoscaling MixedInstancesPolicy shape}
    Returns {"groups", "templates" (those with changes), "conversions"} (see the module docstring)."""
    shapes = shapes or {}
    include_owned = options.get("include_owned") or ()
    items = []
    conversions = {}
    for group in observed["groups"]:
        item = _group_item(group)
        item["_desired"] = desired
        owner = group_owner(group)
        item["owner"] = _owner_view(owner)
        items.append(item)
        reason = _skip_reason(group, owner, include_owned)
        sources = launch_sources(group)
        if sources and "launch_configuration" in sources[0] and not reason:
            _plan_conversion(item, observed, desired, options, shapes, conversions)
            continue
        if not (sources and "launch_configuration" in sources[0]):
            # the sources of a group left alone are judged too: a change must not move what it launches
            _judge_sources(item, observed, desired, shapes.get("data"))
        if reason:
            item.update(status="skipped", action="skip", reason=reason)
        elif item["status"] == "skipped":
            item["action"] = "skip"
    _hold_conflicts(items, observed)
    actionable = [i for i in items if i["status"] == "unchanged"]
    plans = {}
    for template_id, entry in sorted(observed["templates"].items(), key=lambda kv: kv[1]["template"]["LaunchTemplateName"]):
        consumers = _consumers(actionable, template_id)
        protected = {s["ref"] for i, s in _consumers(items, template_id) if i["status"] != "unchanged"}
        if any(s["compliant"] is False for _i, s in consumers):
            plans[template_id] = _plan_template(entry, consumers, protected, shapes.get("data"))
    for item in actionable:
        if all(s["compliant"] is not False for s in item["sources"]):
            continue
        _apply_targets(item, plans)
        item["update"] = group_update(item, shapes.get("policy"))
        item.update(status="changed", action="update_auto_scaling_group" if item["update"] else "new_template_versions",
                    reason="; ".join("%s: %s %s -> %s" % (
                        s["path"], s["launch_template"]["name"], s["ref"],
                        s["version_after"] if s["version_after"] != s["version"] else "%s (now version %s)" % (
                            s["ref"], s["resolves_to_after"])) for s in item["sources"] if s["compliant"] is False))
    return {"groups": items, "templates": [p for p in plans.values() if p["status"] == "changed"],
            "conversions": list(conversions.values())}
