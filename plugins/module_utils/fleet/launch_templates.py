# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Launch templates that give new instances the instance profile and the IMDS options.

Auto Scaling groups and fleets launch from a template's default version, so that is the version we
check. When it differs, a new version is created from it with only the instance profile and the
metadata options changed, and (set_default) made the default.

The request carries SourceVersion *and* the whole source data with the fields changed. AWS merges
LaunchTemplateData over SourceVersion by top-level parameter, so the full data is right there;
moto 5.2 ignores SourceVersion and would drop every field not sent. The source data is projected
through botocore's request shape (DescribeLaunchTemplateVersions returns a few read-only members,
such as MetadataOptions.State, that CreateLaunchTemplateVersion rejects).
"""

from __future__ import annotations

import hashlib
import json
import re

try:
    from botocore.exceptions import ClientError
except ImportError:  # pragma: no cover - AwsContext reports the missing library
    ClientError = Exception

from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import parse_arn
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError, error_code
from ansible_collections.keyless.aws.plugins.module_utils.fleet.metadata import (
    API_TO_OPTION,
    full_request,
    metadata_changes,
    options_view,
)

TEMPLATE_ID_RE = re.compile(r"^lt-[0-9a-f]{8,17}$")
TEMPLATE_NAME_RE = re.compile(r"^[a-zA-Z0-9().\-/_]{3,128}$")
VERSION_DESCRIPTION = "keyless.aws: instance profile and metadata options set on version %s"
# Tags of the template itself, not of what it launches; moto copies them into the data.
_NOT_DATA_TAG_TYPES = ("launch-template",)


# ---------------------------------------------------------------- selection

def selector_argument_spec():
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
    bad = [i for i in ids if not isinstance(i, str) or not TEMPLATE_ID_RE.match(i)]
    if bad:
        errors.append("launch_template_ids has invalid ids %s: a launch template id is lt- followed by 17 hex "
                      "digits (e.g. lt-0123456789abcdef0)" % ", ".join(repr(i) for i in bad[:10]))
    bad = [n for n in names if not isinstance(n, str) or not TEMPLATE_NAME_RE.match(n)]
    if bad:
        errors.append("launch_template_names has invalid names %s: 3 to 128 letters, digits and ( ) . - / _"
                      % ", ".join(repr(n) for n in bad[:10]))
    tags = params.get("tags")
    for key, value in (tags or {}).items():
        if not isinstance(key, str) or not key or len(key) > 128:
            errors.append("tags has an invalid tag key %r: a tag key is 1 to 128 characters" % (key,))
        elif value is None or isinstance(value, dict) or value == []:
            errors.append("tags[%r]=%r: the value must be a string or a non-empty list of strings" % (key, value))
    has_selector = bool(ids or names or tags)
    if params.get("all_templates") and has_selector:
        errors.append("all_templates=true selects every launch template in the region: do not combine it with "
                      "launch_template_ids, launch_template_names or tags")
    elif not params.get("all_templates") and not has_selector:
        errors.append("the selector is empty: give launch_template_ids, launch_template_names or tags, or set "
                      "all_templates=true to act on every launch template in the region")
    return errors


def _tag_filters(tags):
    out = []
    for key, value in sorted((tags or {}).items()):
        values = value if isinstance(value, (list, tuple)) else [value]
        out.append({"Name": "tag:%s" % key, "Values": [str(v) for v in values]})
    return out


def _describe(ec2, operation_resource, **kwargs):
    items = []
    try:
        for page in ec2.get_paginator("describe_launch_templates").paginate(**kwargs):
            items.extend(page.get("LaunchTemplates") or [])
    except ClientError as exc:
        raise AwsCallError.from_client_error(exc, "DescribeLaunchTemplates", operation_resource)
    return items


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
    filters = _tag_filters(params.get("tags"))
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
        items = _describe(ec2, ", ".join(names), Filters=[{"Name": "launch-template-name", "Values": list(names)}])
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
    try:
        resp = ec2.describe_launch_template_versions(LaunchTemplateId=template["LaunchTemplateId"],
                                                     Versions=["$Default", "$Latest"])
    except ClientError as exc:
        raise AwsCallError.from_client_error(exc, "DescribeLaunchTemplateVersions", template["LaunchTemplateId"])
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
            resp = ec2.describe_launch_template_versions(LaunchTemplateId=template_id, Versions=["$Default"])
        except ClientError as exc:
            code = error_code(exc) or ""
            if "NotFound" in code or "Malformed" in code:
                continue
            raise AwsCallError.from_client_error(exc, "DescribeLaunchTemplateVersions", template_id)
        for version in resp.get("LaunchTemplateVersions") or []:
            out[template_id] = version
    return out


def template_findings(view, expected):
    """Findings of a template_view() against ec2_fleet_info's `expected` (instance_profile, http_tokens,
    http_endpoint, min_hop_limit), with fleet_audit's finding names. A metadata field the template does
    not set counts as not set: what such a launch gets depends on account defaults and the AMI."""
    from ansible_collections.keyless.aws.plugins.module_utils.fleet.audit import findings, last_segment

    metadata_expected = dict((k, v) for k, v in (expected or {}).items()
                             if k in ("http_tokens", "http_endpoint", "min_hop_limit") and v is not None)
    out = findings({"metadata_options": view.get("metadata_options") or {}}, metadata_expected)
    want = (expected or {}).get("instance_profile")
    have = view.get("instance_profile")
    if want and not have:
        out.insert(0, "no_profile")
    elif want and have:
        if want.startswith("arn:") and have.get("arn"):
            same = have["arn"] == want
        else:
            same = last_segment(want) == (have.get("name") or last_segment(have.get("arn")))
        if not same:
            out.insert(0, "wrong_profile")
    return out


def template_view(version):
    """What a version launches with: {id, name, version, instance_profile ({arn, name} | {name} | None),
    metadata_options ({option name: value} of the fields the template sets)}."""
    data = version.get("LaunchTemplateData") or {}
    return {"id": version.get("LaunchTemplateId"), "name": version.get("LaunchTemplateName"),
            "version": version.get("VersionNumber"), "instance_profile": profile_view(data.get("IamInstanceProfile")),
            "metadata_options": options_view(data.get("MetadataOptions"))}


# ---------------------------------------------------------------- the instance profile

def resolve_profile(iam, value, observe_profile, check_mode=False):
    """{name, arn, given_as, predicted} of the instance profile `value` (name or ARN).

    A profile that does not exist is an AwsCallError, except in check mode, where an earlier task of
    the same play (iam_instance_profile) may only have predicted it: then it is taken as given
    (predicted=True; arn is None when given by name)."""
    parsed = parse_arn(value)
    name = parsed["name"] if parsed else value
    given_as = "arn" if parsed else "name"
    profile = observe_profile(iam, name)
    if profile is None and check_mode:
        return {"name": name, "arn": value if parsed else None, "given_as": given_as, "predicted": True}
    if profile is None or (parsed and profile["arn"] != value):
        raise AwsCallError("GetInstanceProfile", "NoSuchEntity", "instance_profile %s does not exist" % value, value,
                           hint="create it first (keyless.aws.iam_instance_profile)")
    return {"name": profile["instance_profile_name"], "arn": profile["arn"], "given_as": given_as, "predicted": False}


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


def profile_view(current):
    current = current or {}
    if current.get("Arn"):
        parsed = parse_arn(current["Arn"]) or {}
        return {"arn": current["Arn"], "name": parsed.get("name")}
    if current.get("Name"):
        return {"name": current["Name"]}
    return None


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


def client_token(template_id, source_version, data):
    """The same change from the same source gets the same token, so a retried call creates one version."""
    digest = hashlib.sha256(json.dumps([template_id, source_version, data], sort_keys=True).encode()).hexdigest()
    return "keyless-" + digest[:56]


# ---------------------------------------------------------------- plan (pure)

def plan_template(template, default, latest, desired, set_default, shape=None):
    """What to do with one template (pure).

    desired: {"instance_profile": resolve_profile() result or None, "metadata": desired_fields() (only the
    fields given)}; shape: botocore's RequestLaunchTemplateData shape (None: no projection).
    Returns a dict: action (none | create_version | set_default), reason, before, after, data (for apply),
    source_version, new_default (predicted default version number).
    """
    data = default.get("LaunchTemplateData") or {}
    current_md = data.get("MetadataOptions") or {}
    profile = desired.get("instance_profile")
    md_changes = metadata_changes(current_md, desired.get("metadata") or {})
    profile_changed = profile is not None and not profile_matches(data.get("IamInstanceProfile"), profile)
    before = declared_view(data, desired)
    out = {"id": template["LaunchTemplateId"], "name": template["LaunchTemplateName"],
           "default_version_before": default["VersionNumber"], "latest_version_before": latest["VersionNumber"],
           "source_version": default["VersionNumber"], "before": before, "after": before, "action": "none",
           "reason": "the default version already carries the instance profile and metadata options",
           "default_version_after": default["VersionNumber"], "version_created": None, "data": None}
    operator = (template.get("Operator") or {}).get("Managed")
    if not profile_changed and not md_changes:
        return out
    if operator:
        out.update(action="skip", reason="the template is managed by %s and cannot be changed"
                   % (template["Operator"].get("Principal") or "an AWS service"))
        return out
    new_data = request_data(data, shape)
    if profile_changed:
        new_data["IamInstanceProfile"] = profile_request(profile)
    if md_changes:
        new_data["MetadataOptions"] = project(full_request(current_md, desired["metadata"]),
                                              shape.members["MetadataOptions"] if shape else None)
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
    out.update(action="create_version", data=new_data, version_created=new_version,
               default_version_after=new_version if set_default else default["VersionNumber"],
               reason="version %d from version %d%s" % (new_version, default["VersionNumber"],
                                                        ", made the default" if set_default else ""))
    if not set_default:
        out["after"] = before  # the default version, which launches use, does not change
    out["changed_fields"] = sorted((["IamInstanceProfile"] if profile_changed else []) +
                                   ["MetadataOptions.%s" % k for k in sorted(md_changes)])
    return out


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

def apply_template(ec2, item, set_default):
    """Make the calls of one planned template; returns the version number created (or None)."""
    template_id = item["id"]
    if item["action"] == "create_version":
        try:
            resp = ec2.create_launch_template_version(
                LaunchTemplateId=template_id, SourceVersion=str(item["source_version"]),
                VersionDescription=VERSION_DESCRIPTION % item["source_version"],
                LaunchTemplateData=item["data"],
                ClientToken=client_token(template_id, item["source_version"], item["data"]))
        except ClientError as exc:
            raise AwsCallError.from_client_error(exc, "CreateLaunchTemplateVersion", template_id)
        number = resp["LaunchTemplateVersion"]["VersionNumber"]
        item["version_created"] = number
        if not set_default:
            return number
        item["default_version_after"] = number
    elif item["action"] != "set_default":
        return None
    try:
        ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion=str(item["default_version_after"]))
    except ClientError as exc:
        raise AwsCallError.from_client_error(exc, "ModifyLaunchTemplate", template_id)
    return item.get("version_created")
