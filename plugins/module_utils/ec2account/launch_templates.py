# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Launch templates that give new instances the instance profile and the IMDS options.

Auto Scaling groups and fleets launch from a template's default version, so that is the version we
check. When it differs, a new version is created from it with only the instance profile and the
metadata options changed, and (set_default) made the default.

The request carries SourceVersion and only the top-level parameters that change (IamInstanceProfile,
MetadataOptions): AWS starts the new version from the source version's data and overrides the parameters
given. A ClientToken derived from the change (and the run) makes a retried call return the version it created.
To find out whether the latest version already is the change (an earlier run with set_default: false),
the source data with the change applied is compared with the latest version's data, both projected
through botocore's request shape (DescribeLaunchTemplateVersions returns read-only members, such as
MetadataOptions.State, that a request would not carry). Private to the collection.
"""

from __future__ import annotations

import hashlib
import json
import uuid

from ansible_collections.keyless.aws.plugins.module_utils.aws import rules
from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import parse_arn
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError
from ansible_collections.keyless.aws.plugins.module_utils.aws.plan import Plan, apply_plan
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import call, paginate
from ansible_collections.keyless.aws.plugins.module_utils.fleet.audit import profile_view
from ansible_collections.keyless.aws.plugins.module_utils.fleet.metadata import (
    API_TO_OPTION,
    full_request,
    metadata_changes,
)
from ansible_collections.keyless.aws.plugins.module_utils.fleet.selection import FILTER_VALUES_MAX, chunks

VERSION_DESCRIPTION = "keyless.aws: instance profile and metadata options set on version %s"
KEEP_LATEST_DESCRIPTION = "keyless.aws: copy of version %s, so $Latest launches what it did"
# Tags of the template itself, not of what it launches; moto copies them into the data.
_NOT_DATA_TAG_TYPES = ("launch-template",)


# ---------------------------------------------------------------- selection

def template_selector_argument_spec():
    return dict(
        launch_template_ids=dict(type="list", elements="str"),
        launch_template_names=dict(type="list", elements="str"),
        tags=dict(type="dict"),
        all_templates=dict(type="bool", default=False),
    )


def validate_selector(params):
    errors = []
    ids = params.get("launch_template_ids") or []
    names = params.get("launch_template_names") or []
    bad = [i for i in ids if not isinstance(i, str) or not rules.is_launch_template_id(i)]
    if bad:
        errors.append("launch_template_ids has invalid ids %s: a launch template id is lt- followed by 17 hex "
                      "digits (e.g. lt-0123456789abcdef0)" % ", ".join(repr(i) for i in bad[:10]))
    bad = [n for n in names if not isinstance(n, str) or not rules.is_launch_template_name(n)]
    if bad:
        errors.append("launch_template_names has invalid names %s: 3 to 128 letters, digits and ( ) . - / _"
                      % ", ".join(repr(n) for n in bad[:10]))
    tags = params.get("tags")
    errors.extend(tag_selector_errors(tags))
    errors.extend(selector_scope_errors(bool(ids or names or tags), params.get("all_templates"), "all_templates",
                                        "launch_template_ids, launch_template_names or tags", "launch template"))
    return errors


def tag_selector_errors(tags):
    """The errors of a `tags` selector option (pure): keys of 1 to 128 characters, each value a string or a
    non-empty list of strings."""
    errors = []
    for key, value in (tags or {}).items():
        if not isinstance(key, str) or not key or len(key) > 128:
            errors.append("tags has an invalid tag key %r: a tag key is 1 to 128 characters" % (key,))
        elif value is None or isinstance(value, dict) or value == []:
            errors.append("tags[%r]=%r: the value must be a string or a non-empty list of strings" % (key, value))
    return errors


def selector_scope_errors(has_selector, select_all, all_option, selector_options, what):
    """The error of a selector that is empty without `<all_option>: true`, or combined with it (pure)."""
    if select_all and has_selector:
        return ["%s=true selects every %s in the region: do not combine it with %s" % (all_option, what,
                                                                                       selector_options)]
    if not select_all and not has_selector:
        return ["the selector is empty: give %s, or set %s=true to act on every %s in the region"
                % (selector_options, all_option, what)]
    return []


def tag_filters(tags):
    """Describe filters (tag:<key> = value or any of the values) of a tags selector."""
    out = []
    for key, value in sorted((tags or {}).items()):
        values = value if isinstance(value, (list, tuple)) else [value]
        out.append({"Name": "tag:%s" % key, "Values": [str(v) for v in values]})
    return out


def _describe(ec2, operation_resource, **kwargs):
    return paginate(ec2, "DescribeLaunchTemplates", "LaunchTemplates", kwargs, resource=operation_resource)


def _describe_ids(ec2, ids):
    """Templates by id; ids that do not exist are named in the error (AWS fails the whole request)."""
    try:
        found = _describe(ec2, ", ".join(ids), LaunchTemplateIds=list(ids))
        missing = sorted(set(ids) - {t["LaunchTemplateId"] for t in found})
    except AwsCallError as exc:
        if "NotFound" not in (exc.code or "") and "Malformed" not in (exc.code or ""):
            raise
        missing = [i for i in ids if not _exists(ec2, i)]
    if not missing:
        return found
    raise AwsCallError("DescribeLaunchTemplates", "InvalidLaunchTemplateId.NotFound",
                       "launch_template_ids %s do not exist in this region" % ", ".join(missing), ", ".join(missing),
                       hint="check the ids and the region")


def _exists(ec2, template_id):
    try:
        return bool(_describe(ec2, template_id, LaunchTemplateIds=[template_id]))
    except AwsCallError as exc:
        if "NotFound" in (exc.code or "") or "Malformed" in (exc.code or ""):
            return False
        raise


def select_templates(ec2, params):
    """The selected templates (DescribeLaunchTemplates items), sorted by name; missing ids/names fail."""
    filters = tag_filters(params.get("tags"))
    ids = params.get("launch_template_ids") or []
    names = params.get("launch_template_names") or []
    if not ids and not names:
        return sorted(_describe(ec2, "all templates", **({"Filters": filters} if filters else {})),
                      key=lambda t: t["LaunchTemplateName"])
    found = {}
    if ids:
        for item in _describe_ids(ec2, ids):
            found[item["LaunchTemplateId"]] = item
    if names:
        # the name filter answers for the names that exist instead of failing the whole request
        # at most 200 filter values a call (FilterLimitExceeded): the names in chunks of that
        items = [item for chunk in chunks(sorted(set(names)), FILTER_VALUES_MAX)
                 for item in _describe(ec2, ", ".join(chunk), Filters=[{"Name": "launch-template-name", "Values": chunk}])]
        missing = sorted(set(names) - {t["LaunchTemplateName"] for t in items})
        if missing:
            raise AwsCallError("DescribeLaunchTemplates", "InvalidLaunchTemplateName.NotFoundException",
                               "launch_template_names %s do not exist in this region" % ", ".join(missing),
                               ", ".join(missing), hint="check the names and the region")
        for item in items:
            found[item["LaunchTemplateId"]] = item
    selected = list(found.values())
    if filters:
        wanted = {t["LaunchTemplateId"] for t in _describe(ec2, "tags", Filters=filters)}
        selected = [t for t in selected if t["LaunchTemplateId"] in wanted]
    return sorted(selected, key=lambda t: t["LaunchTemplateName"])


def observe_versions(ec2, template):
    """(default, latest) version structures of one template (one call)."""
    resp = call(ec2, "DescribeLaunchTemplateVersions", {"LaunchTemplateId": template["LaunchTemplateId"],
                                                        "Versions": ["$Default", "$Latest"]},
                resource=template["LaunchTemplateId"])
    versions = resp.get("LaunchTemplateVersions") or []
    default = next((v for v in versions if v.get("DefaultVersion")), None)
    if default is None:
        default = next(v for v in versions if v["VersionNumber"] == template["DefaultVersionNumber"])
    latest = max(versions, key=lambda v: v["VersionNumber"])
    return default, latest


def default_versions(ec2, template_ids):
    """{template id: its default version (DescribeLaunchTemplateVersions item)}, one call per template;
    a template deleted meanwhile is left out. For audits such as ec2_fleet_info."""
    out = {}
    for template_id in sorted(set(template_ids)):
        try:
            resp = call(ec2, "DescribeLaunchTemplateVersions", {"LaunchTemplateId": template_id,
                                                                "Versions": ["$Default"]}, resource=template_id)
        except AwsCallError as exc:
            if "NotFound" in (exc.code or "") or "Malformed" in (exc.code or ""):
                continue
            raise
        for version in resp.get("LaunchTemplateVersions") or []:
            out[template_id] = version
    return out


# ---------------------------------------------------------------- the instance profile

def profile_matches(current, profile):
    """LaunchTemplateData.IamInstanceProfile ({Arn} or {Name}) names the resolved profile."""
    current = current or {}
    if current.get("Arn"):
        if profile.get("arn"):
            return current["Arn"] == profile["arn"]
        return (parse_arn(current["Arn"]) or {}).get("name") == profile["name"]  # a predicted profile
    return current.get("Name") == profile["name"]


def profile_request(profile):
    """Write the profile the way the user named it."""
    return {"Arn": profile["arn"]} if profile["given_as"] == "arn" else {"Name": profile["name"]}


# ---------------------------------------------------------------- request shape

def project(value, shape):
    """Keep only what a botocore request shape accepts (recursively)."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        return {k: project(v, shape.members[k]) for k, v in value.items() if k in shape.members}
    if shape.type_name == "list" and isinstance(value, list):
        return [project(v, shape.member) for v in value]
    return value


def request_data(source_data, shape=None):
    """The source version's data as CreateLaunchTemplateVersion accepts it."""
    data = json.loads(json.dumps(source_data, default=str))
    specs = [s for s in data.get("TagSpecifications") or [] if s.get("ResourceType") not in _NOT_DATA_TAG_TYPES]
    if "TagSpecifications" in data:
        if specs:
            data["TagSpecifications"] = specs
        else:
            del data["TagSpecifications"]
    return project(data, shape)


# One per module run: a token is the same for every retry of a call within the run, never across runs. A version
# an earlier run created and then deleted (apply_versions) must be created again, and AWS answers a token it has
# seen with the version that token made, deleted or not.
RUN_ID = uuid.uuid4().hex


def client_token(template_id, source_version, data):
    """The same change from the same source in one run gets the same token, so a retried call creates one version
    (a rerun finds an earlier run's version by its data: plan_template)."""
    digest = hashlib.sha256(json.dumps([template_id, source_version, data, RUN_ID], sort_keys=True).encode()).hexdigest()
    return "keyless-" + digest[:56]


# ---------------------------------------------------------------- plan (pure)

def plan_template(template, default, latest, desired, set_default, shape=None):
    """What to do with one template (pure).

    desired: {"instance_profile": resolve_profile() result or None, "metadata": desired_fields() (only the
    fields given)}; shape: botocore's RequestLaunchTemplateData shape (None: no projection).
    Returns a dict: action (none | create_version | set_default), reason, before, after, data (the changed
    top-level parameters), source_version, default_version_after (predicted), keep_latest (with set_default,
    when the latest version is not the default: {source_version, version, data} of the copy of the latest made
    after the new version, so that $Latest launches what it did); template_plan() has its calls.
    """
    data = default.get("LaunchTemplateData") or {}
    changes, changed_fields = version_changes(data, desired, shape)
    before = declared_view(data, desired)
    out = {"id": template["LaunchTemplateId"], "name": template["LaunchTemplateName"],
           "default_version_before": default["VersionNumber"], "latest_version_before": latest["VersionNumber"],
           "source_version": default["VersionNumber"], "before": before, "after": before, "action": "none",
           "reason": "the default version already carries the instance profile and metadata options",
           "default_version_after": default["VersionNumber"], "version_created": None, "data": None}
    operator = (template.get("Operator") or {}).get("Managed")
    if not changes:
        return out
    if operator:
        out.update(action="skip", reason=managed_reason(template))
        return out
    new_data = dict(request_data(data, shape), **changes)
    out["after"] = declared_view(new_data, desired)
    if latest["VersionNumber"] != default["VersionNumber"] and \
            request_data(latest.get("LaunchTemplateData") or {}, shape) == new_data:
        # a version with exactly this change exists already (an earlier run, or set_default: false)
        if set_default:
            out.update(action="set_default", default_version_after=latest["VersionNumber"],
                       reason="version %d already carries the change: make it the default" % latest["VersionNumber"])
        else:
            out.update(after=before, reason="version %d already carries the change; set_default is false, so the "
                                            "default stays %d" % (latest["VersionNumber"], default["VersionNumber"]))
        return out
    new_version = latest["VersionNumber"] + 1
    out.update(action="create_version", data=changes, version_created=new_version,
               default_version_after=new_version if set_default else default["VersionNumber"],
               reason="version %d from version %d%s" % (new_version, default["VersionNumber"],
                                                        ", made the default" if set_default else ""))
    if not set_default:
        out["after"] = before  # the default version, which launches use, does not change
    elif latest["VersionNumber"] != default["VersionNumber"]:
        # the new version becomes $Latest: what launches from $Latest (an Auto Scaling group, a fleet) would launch
        # the default's data from now on. A copy of the latest version, made last, keeps $Latest launching what it did.
        out["keep_latest"] = {"source_version": latest["VersionNumber"], "version": new_version + 1,
                              "data": request_data(copy_data(latest.get("LaunchTemplateData")), shape)}
        out["reason"] += "; version %d a copy of version %d, so $Latest launches what it did" % (
            new_version + 1, latest["VersionNumber"])
    out["changed_fields"] = changed_fields
    return out


def copy_data(data):
    """The LaunchTemplateData of a request that copies a version (SourceVersion): AWS needs some data, so the
    fields this collection manages as the source has them (or its first field), which change nothing."""
    data = data or {}
    return {k: data[k] for k in ("IamInstanceProfile", "MetadataOptions") if k in data} or \
        {k: data[k] for k in sorted(data)[:1]}


def version_changes(data, desired, shape=None):
    """(changes, changed_fields) of one version's LaunchTemplateData against `desired` (pure): changes holds the
    top-level parameters a new version sets (IamInstanceProfile written the way the user named the profile,
    MetadataOptions as a full request: the given fields plus every field the version has); {} when compliant.
    changed_fields: ["IamInstanceProfile", "MetadataOptions.HttpTokens", ...] sorted."""
    current_md = data.get("MetadataOptions") or {}
    profile = desired.get("instance_profile")
    md_changes = metadata_changes(current_md, desired.get("metadata") or {})
    profile_changed = profile is not None and not profile_matches(data.get("IamInstanceProfile"), profile)
    changes = {}
    if profile_changed:
        changes["IamInstanceProfile"] = profile_request(profile)
    if md_changes:
        changes["MetadataOptions"] = project(full_request(current_md, desired["metadata"]),
                                             shape.members["MetadataOptions"] if shape else None)
    changed_fields = sorted((["IamInstanceProfile"] if profile_changed else []) +
                            ["MetadataOptions.%s" % k for k in sorted(md_changes)])
    return changes, changed_fields


def managed_reason(template):
    """Why a template managed by a service (Operator.Managed) is left alone."""
    return "the template is managed by %s and cannot be changed" % (
        (template.get("Operator") or {}).get("Principal") or "an AWS service")


def template_plan(item, set_default):
    """The calls of one planned template: CreateLaunchTemplateVersion (from the source version, with only the
    changed parameters and an idempotency token) and/or ModifyLaunchTemplate (the default version: the one
    AWS numbered in its answer, or the existing one that carries the change)."""
    template_id = item["id"]
    plan = Plan()
    if item["action"] == "create_version":
        plan.add("CreateLaunchTemplateVersion", template_id, {
            "LaunchTemplateId": template_id, "SourceVersion": str(item["source_version"]),
            "VersionDescription": VERSION_DESCRIPTION % item["source_version"], "LaunchTemplateData": item["data"],
            "ClientToken": client_token(template_id, item["source_version"], item["data"])},
            before=item["default_version_before"], after=item["version_created"], service="ec2")
        keep = item.get("keep_latest")
        if keep:
            plan.add("CreateLaunchTemplateVersion", template_id, {
                "LaunchTemplateId": template_id, "SourceVersion": str(keep["source_version"]),
                "VersionDescription": KEEP_LATEST_DESCRIPTION % keep["source_version"],
                "LaunchTemplateData": keep["data"],
                "ClientToken": client_token(template_id, keep["source_version"], keep["data"])},
                before=item["latest_version_before"], after=keep["version"], service="ec2")
        if set_default:
            plan.add("ModifyLaunchTemplate", template_id, lambda responses: {
                "LaunchTemplateId": template_id,
                "DefaultVersion": str(responses[0]["LaunchTemplateVersion"]["VersionNumber"])},
                before=item["default_version_before"], after=item["default_version_after"], service="ec2")
    elif item["action"] == "set_default":
        plan.add("ModifyLaunchTemplate", template_id, {"LaunchTemplateId": template_id,
                                                       "DefaultVersion": str(item["default_version_after"])},
                 before=item["default_version_before"], after=item["default_version_after"], service="ec2")
    return plan


def declared_view(data, desired):
    """The part of a version's data the user declared: instance profile and the given metadata fields."""
    view = {}
    if desired.get("instance_profile") is not None:
        view["instance_profile"] = profile_view(data.get("IamInstanceProfile"))
    if desired.get("metadata"):
        current = data.get("MetadataOptions") or {}
        view["metadata_options"] = {API_TO_OPTION[key]: current.get(key) for key in sorted(desired["metadata"])}
    return view


# ---------------------------------------------------------------- apply

def apply_versions(client_for, template_id, plan, progress):
    """apply_plan(plan) of one template's versions (and its default). When a call fails after versions were
    created, those versions are deleted again (none of them is the default yet: ModifyLaunchTemplate comes last),
    so $Latest launches what it did before the run and a rerun starts from the same template; the error is
    raised, saying so. A version a scale-out launched from meanwhile may go: its instances keep running."""
    try:
        return apply_plan(client_for, plan, progress)
    except AwsCallError as exc:
        made = [str(r["LaunchTemplateVersion"]["VersionNumber"]) for r in getattr(exc, "responses", None) or ()
                if r and "LaunchTemplateVersion" in r]
        if not made:
            raise
        undo = Plan().add("DeleteLaunchTemplateVersions", template_id, {"LaunchTemplateId": template_id,
                                                                        "Versions": made}, service="ec2")
        apply_plan(client_for, undo, progress)
        exc.hint = ("%s (the versions this run had created, %s, were deleted: the template is as it was; rerun)"
                    % (exc.hint or "", ", ".join(made))).strip()
        raise


def apply_templates(client_for, items, set_default, progress):
    """Make the calls of every planned template; one template's failure does not stop the others: it is
    recorded in the item (status failed, reason). Returns the failed items."""
    failed = []
    for item in items:
        plan = template_plan(item, set_default)
        if not plan:
            continue
        try:
            responses = apply_versions(client_for, item["id"], plan, progress)
        except AwsCallError as exc:
            item.update(status="failed", reason=exc.text())
            failed.append(item)
            continue
        if item["action"] == "create_version":
            number = responses[0]["LaunchTemplateVersion"]["VersionNumber"]
            item["version_created"] = number
            if set_default:
                item["default_version_after"] = number
    return failed
