#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ec2_launch_template_identity
short_description: Make EC2 launch templates launch instances with an instance profile and IMDSv2
version_added: 0.1.0
description:
  - For the launch templates selected by id, name or tags, checks that the B(default) version (the
    one Auto Scaling groups and fleets launch from unless told otherwise) carries the instance profile
    and the instance metadata options given.
  - When it does not, creates a new version from the default version with only those fields changed
    and, with O(set_default=true), makes it the default. Every other launch parameter is kept.
  - The new version is the template's latest. When the latest version was not the default, a copy of it is
    created last (with O(set_default=true)), so that what launches from C($Latest) - an Auto Scaling group or a
    fleet - keeps launching what it did, not the default's AMI and user data. To make C($Latest) and pinned
    versions compliant too, use M(keyless.aws.autoscaling_group_identity), which builds from the version each
    group launches.
  - Only the metadata options given are compared and changed; an option left out keeps the template's
    value (setting O(http_tokens) does not reset the hop limit).
  - Idempotent. A version that already carries exactly the change (left by an earlier run, for
    instance with O(set_default=false)) is reused instead of creating another one.
  - Templates managed by an AWS service (C(Operator.Managed)) are reported as skipped.
  - Never launches or changes instances; use M(keyless.aws.ec2_profile_association) and
    M(keyless.aws.ec2_metadata_options) for the running fleet.
author: keyless.aws maintainers (@keyless-aws)
options:
  launch_template_ids:
    description:
      - Select these launch templates by id. Every id must exist.
    type: list
    elements: str
  launch_template_names:
    description:
      - Select these launch templates by name. Every name must exist.
      - Combined with O(launch_template_ids), templates matching either are selected.
    type: list
    elements: str
  tags:
    description:
      - Select launch templates carrying these tags (tag key -> value or list of values).
      - With O(launch_template_ids) or O(launch_template_names), only the named templates that also carry
        the tags are selected.
    type: dict
  all_templates:
    description:
      - Select every launch template in the region. An empty selector is refused unless this is V(true).
    type: bool
    default: false
  instance_profile:
    description:
      - The instance profile new instances get, by name or ARN. It must exist (in check mode a missing
        profile is assumed to be created by an earlier task, with a warning).
      - The template's C(IamInstanceProfile) may hold an ARN or a name; either is compared with the
        resolved profile. A new version names it the way it is given here.
    type: str
  http_tokens:
    description:
      - V(required) enforces IMDSv2 (session tokens).
    type: str
    choices: [optional, required]
  http_endpoint:
    description:
      - Whether the instance metadata endpoint is reachable.
    type: str
    choices: [enabled, disabled]
  http_put_response_hop_limit:
    description:
      - The hop limit of token responses, 1 to 64 (containers need 2).
    type: int
  http_protocol_ipv6:
    description:
      - Whether the metadata endpoint answers on its IPv6 address.
    type: str
    choices: [enabled, disabled]
  instance_metadata_tags:
    description:
      - Whether instance tags are readable from the metadata service.
    type: str
    choices: [enabled, disabled]
  set_default:
    description:
      - Make the new (or reused) version the template's default version.
      - With V(false) a version is created but launches keep using the old default.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Makes no change and returns the predicted version numbers and data.
  diff_mode:
    support: full
    description: Shows, per changed template, the declared fields of the default version before and after.
extends_documentation_fragment:
  - keyless.aws.aws
"""

EXAMPLES = r"""
- name: Web templates launch with the app profile and IMDSv2 (hop limit 2 for containers)
  keyless.aws.ec2_launch_template_identity:
    tags:
      app: web
    instance_profile: app-web
    http_tokens: required
    http_put_response_hop_limit: 2
  register: templates

- name: Only enforce IMDSv2 on two named templates, leaving every other field alone
  keyless.aws.ec2_launch_template_identity:
    launch_template_names: [batch-workers, api]
    http_tokens: required

- name: Prepare a version but do not roll it out yet
  keyless.aws.ec2_launch_template_identity:
    launch_template_ids: [lt-0123456789abcdef0]
    instance_profile: arn:aws:iam::123456789012:instance-profile/app/app-web
    set_default: false
"""

RETURN = r"""
templates:
  description: One entry per selected launch template.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The launch template id.
      type: str
      sample: lt-0123456789abcdef0
    name:
      description: The launch template name.
      type: str
      sample: web
    action:
      description: V(none), V(create_version), V(set_default) (reuse a version that carries the change) or V(skip).
      type: str
      sample: create_version
    status:
      description: V(unchanged), V(changed) (in check mode, would change), V(skipped) or V(failed).
      type: str
      sample: changed
    reason:
      description: Why the action was chosen, or why it failed.
      type: str
      sample: version 4 from version 3, made the default
    default_version_before:
      description: The default version number before the task.
      type: int
      sample: 3
    default_version_after:
      description: The default version number after the task (predicted in check mode).
      type: int
      sample: 4
    version_created:
      description: The version created (predicted in check mode), or null.
      type: int
      sample: 4
    changed_fields:
      description: The launch template data fields the new version changes.
      type: list
      elements: str
      sample: ["IamInstanceProfile", "MetadataOptions.HttpTokens"]
    before:
      description: The declared fields of the default version before.
      type: dict
      sample: {"instance_profile": null, "metadata_options": {"http_tokens": "optional"}}
    after:
      description: The declared fields of the default version after.
      type: dict
      sample: {"instance_profile": {"name": "app-web"}, "metadata_options": {"http_tokens": "required"}}
summary:
  description: Counts of the templates by status and by action.
  returned: always
  type: dict
  sample: {"total": 3, "changed": 1, "unchanged": 2, "skipped": 0, "failed": 0,
           "by_action": {"create_version": 1, "none": 2}}
instance_profile:
  description: The resolved instance profile, when given.
  returned: when instance_profile is given
  type: dict
  sample: {"name": "app-web", "arn": "arn:aws:iam::123456789012:instance-profile/app-web"}
failed_templates:
  description: The templates whose calls failed, with the reason; the task fails when there are any.
  returned: always
  type: list
  elements: dict
  sample: []
"""

from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import TaskFailure
from ansible_collections.keyless.aws.plugins.module_utils.fleet.associations import validate_profile_option
from ansible_collections.keyless.aws.plugins.module_utils.ec2account.launch_templates import (
    apply_templates,
    observe_versions,
    plan_template,
    select_templates,
    template_selector_argument_spec,
    validate_selector,
)
from ansible_collections.keyless.aws.plugins.module_utils.iam.profiles import resolve_instance_profile
from ansible_collections.keyless.aws.plugins.module_utils.fleet.metadata import (
    desired_fields,
    metadata_argument_spec,
    validate_metadata,
)
from ansible_collections.keyless.aws.plugins.module_utils.aws.module import aws_module, context, run_module
from ansible_collections.keyless.aws.plugins.module_utils.aws.plan import diff

STATUS = {"none": "unchanged", "create_version": "changed", "set_default": "changed", "skip": "skipped"}


def argument_spec():
    spec = template_selector_argument_spec()
    spec.update(metadata_argument_spec())
    spec.update(instance_profile=dict(type="str"), set_default=dict(type="bool", default=True))
    return spec


def validate(params):
    errors = validate_selector(params) + validate_metadata(params)
    profile = params.get("instance_profile")
    errors.extend(validate_profile_option(profile))
    if profile is None and not desired_fields(params):
        errors.append("nothing to ensure: give instance_profile and/or a metadata option (http_tokens, http_endpoint, "
                      "http_put_response_hop_limit, http_protocol_ipv6, instance_metadata_tags)")
    return [e for e in errors if e]


def summarize(items):
    summary = {"total": len(items), "changed": 0, "unchanged": 0, "skipped": 0, "failed": 0, "by_action": {}}
    for item in items:
        summary[item["status"]] += 1
        summary["by_action"][item["action"]] = summary["by_action"].get(item["action"], 0) + 1
    return summary


def public(item):
    keys = ("id", "name", "action", "status", "reason", "default_version_before", "default_version_after",
            "version_created", "changed_fields", "before", "after")
    out = {k: item.get(k) for k in keys}
    out["changed_fields"] = out["changed_fields"] or []
    return out


def converge(module, progress):
    params = module.params
    ctx = context(module, validate(params), require_region=True)
    ec2 = ctx.client("ec2")
    desired = {"metadata": desired_fields(params), "instance_profile": None}
    result = {}
    if params.get("instance_profile"):
        profile = resolve_instance_profile(ctx.client("iam"), params["instance_profile"], module.check_mode,
                                           require_role=False)
        desired["instance_profile"] = profile
        result["instance_profile"] = {k: profile[k] for k in ("name", "arn")}
        if not profile["exists"]:
            module.warn("instance_profile %s does not exist yet: check mode assumes an earlier task creates it"
                        % params["instance_profile"])
    shape = ec2.meta.service_model.shape_for("RequestLaunchTemplateData")
    items = [plan_template(t, *observe_versions(ec2, t), desired=desired, set_default=params["set_default"],
                           shape=shape) for t in select_templates(ec2, params)]
    for item in items:
        item["status"] = STATUS[item["action"]]
    failed = [] if module.check_mode else apply_templates(ctx.client, items, params["set_default"], progress)
    changed = [i for i in items if i["status"] == "changed"]
    result.update(
        changed=bool(changed),
        templates=[public(i) for i in items],
        summary=summarize(items),
        failed_templates=[{"id": f["id"], "name": f["name"], "reason": f["reason"]} for f in failed],
        diff=diff({"templates": {i["name"]: i["before"] for i in changed}},
                  {"templates": {i["name"]: i["after"] for i in changed}}),
    )
    if failed:
        raise TaskFailure("%d launch template(s) failed: %s" % (len(failed), "; ".join(
            "%s (%s): %s" % (f["name"], f["id"], f["reason"]) for f in failed)), result)
    return result


def main():
    module = aws_module(argument_spec())
    run_module(module, lambda progress: converge(module, progress))


if __name__ == "__main__":
    main()
