# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Auto Scaling groups: the calls that carry out autoscaling_plan.plan(). Private to the collection: no stable API.

    template_changes(template item) -> Plan       CreateLaunchTemplateVersion in order, then ModifyLaunchTemplate
    apply(client_for, planned, progress, options, policy_shape=None) -> [failed group item]   options:
        instance_refresh, min_healthy_percentage (MIN_HEALTHY_DEFAULT when not given); fills in the numbers AWS gave
        and instance_refresh ({status started | in_progress, id, reason})
    The order: each template's versions and default version, the launch templates converted from launch
    configurations (CreateLaunchTemplate), then each group's UpdateAutoScalingGroup (rebuilt by
    autoscaling_plan.group_update with the numbers AWS gave) and StartInstanceRefresh.

AWS facts (EC2 Auto Scaling API reference and user guide):
- The last version created is $Latest: the versions are created in the plan's order, so $Latest launches what
  the plan says.
- StartInstanceRefresh answers InstanceRefreshInProgress while one runs; SkipMatching skips instances that already
  run the desired launch template and version (user guide, "Use an instance refresh with skip matching").
"""

from __future__ import annotations

from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError
from ansible_collections.keyless.aws.plugins.module_utils.aws.plan import Change, Plan, apply_plan
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import call
from ansible_collections.keyless.aws.plugins.module_utils.ec2account.autoscaling_plan import group_update
from ansible_collections.keyless.aws.plugins.module_utils.ec2account.launch_templates import (
    KEEP_LATEST_DESCRIPTION,
    VERSION_DESCRIPTION,
    apply_versions,
    client_token,
)

MIN_HEALTHY_DEFAULT = 90
REFRESH_RUNNING = ("InstanceRefreshInProgress",)
CONVERTED_DESCRIPTION = "keyless.aws: converted from launch configuration %s"


def template_changes(template):
    """The calls of one planned template: its versions in order, then the default version."""
    plan_ = Plan()
    for version in template["versions"]:
        description = (VERSION_DESCRIPTION if version["purpose"] == "compliance" else KEEP_LATEST_DESCRIPTION) % \
            version["source_version"]
        plan_.add("CreateLaunchTemplateVersion", template["id"], {
            "LaunchTemplateId": template["id"], "SourceVersion": str(version["source_version"]),
            "VersionDescription": description, "LaunchTemplateData": version["data"],
            "ClientToken": client_token(template["id"], version["source_version"], version["data"])},
            before=template["latest_version_before"], after=version["version"], service="ec2")
    if template["default_version_after"] != template["default_version_before"]:
        target = template["default_version_after"]
        index = next((i for i, v in enumerate(template["versions"]) if v["version"] == target), None)
        plan_.add("ModifyLaunchTemplate", template["id"], (lambda responses: {
            "LaunchTemplateId": template["id"],
            "DefaultVersion": str(responses[index]["LaunchTemplateVersion"]["VersionNumber"])}) if index is not None else {
            "LaunchTemplateId": template["id"], "DefaultVersion": str(target)},
            before=template["default_version_before"], after=target, service="ec2")
    return plan_


def _renumber(item, numbers):
    """Replace predicted version numbers with the ones AWS gave (they differ only when someone else created
    versions between our read and our calls)."""
    for source in item["sources"]:
        template_id = (source.get("launch_template") or {}).get("id")
        mapped = numbers.get((template_id, source.get("resolves_to_after")))
        if mapped is not None:
            if source["version_after"] == str(source["resolves_to_after"]):
                source["version_after"] = str(mapped)
            source["resolves_to_after"] = mapped
    for created in item["versions_created"]:
        created["version"] = numbers.get((created["template_id"], created["version"]), created["version"])


def _refresh(client_for, item, options, progress):
    params = {"AutoScalingGroupName": item["name"], "Strategy": "Rolling", "Preferences": {
        "MinHealthyPercentage": options.get("min_healthy_percentage", MIN_HEALTHY_DEFAULT), "SkipMatching": True}}
    change = Change("StartInstanceRefresh", item["name"], params, service="autoscaling")
    resp = call(client_for("autoscaling"), "StartInstanceRefresh", params, resource=item["name"], missing=REFRESH_RUNNING)
    if resp is None:
        item["instance_refresh"] = {"status": "in_progress", "id": None, "reason": "an instance refresh of the group "
                                    "is running already: it launches from what the group named when it started; "
                                    "start another once it ends"}
        return
    progress.did(change)
    item["instance_refresh"] = {"status": "started", "id": resp.get("InstanceRefreshId"), "reason": None}


def _fail(item, reason):
    item.update(status="failed", reason=reason)


def apply(client_for, planned, progress, options, policy_shape=None):
    """Make the calls: template versions and defaults, launch templates converted from launch configurations, then
    each group's UpdateAutoScalingGroup and (instance_refresh) StartInstanceRefresh. A template's failure fails the
    groups that needed it; one group's failure does not stop the others. Returns the failed group items."""
    numbers, broken = {}, {}
    for template in planned["templates"]:
        try:
            responses = apply_versions(client_for, template["id"], template_changes(template), progress)
        except AwsCallError as exc:
            template.update(status="failed", reason=exc.text())
            broken[template["id"]] = "launch template %s: %s" % (template["name"], exc.text())
            continue
        for version, response in zip(template["versions"], responses):
            actual = response["LaunchTemplateVersion"]["VersionNumber"]
            numbers[(template["id"], version["version"])] = actual
            version["version"] = actual
        if (template["id"], template["default_version_after"]) in numbers:
            template["default_version_after"] = numbers[(template["id"], template["default_version_after"])]
    for conversion in planned["conversions"]:
        plan_ = Plan().add("CreateLaunchTemplate", conversion["name"], {
            "LaunchTemplateName": conversion["name"], "VersionDescription": CONVERTED_DESCRIPTION % conversion[
                "launch_configuration"], "LaunchTemplateData": conversion["data"],
            "ClientToken": client_token(conversion["name"], conversion["launch_configuration"], conversion["data"])},
            after=conversion["name"], service="ec2")
        try:
            conversion["id"] = apply_plan(client_for, plan_, progress)[0]["LaunchTemplate"]["LaunchTemplateId"]
        except AwsCallError as exc:
            conversion.update(status="failed", reason=exc.text())
            broken[conversion["name"]] = "launch template %s: %s" % (conversion["name"], exc.text())
    failed = [i for i in planned["groups"] if i["status"] == "failed"]
    for item in planned["groups"]:
        if item["status"] != "changed":
            continue
        needs = {s["launch_template"]["id"] for s in item["sources"] if s.get("compliant") is False and
                 s.get("launch_template")} | ({item["conversion"]["launch_template_name"]} if item["conversion"] else set())
        reasons = [broken[k] for k in sorted(needs) if k in broken]
        if reasons:
            _fail(item, "; ".join(reasons))
            failed.append(item)
            continue
        _renumber(item, numbers)
        if item["update"] is not None and not item["conversion"]:
            item["update"] = group_update(item, policy_shape)
        try:
            if item["update"]:
                apply_plan(client_for, Plan().add("UpdateAutoScalingGroup", item["name"], item["update"],
                                                  service="autoscaling"), progress)
            if options.get("instance_refresh"):
                _refresh(client_for, item, options, progress)
        except AwsCallError as exc:
            _fail(item, exc.text())
            failed.append(item)
    return failed
