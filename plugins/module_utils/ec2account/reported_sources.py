# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Launch sources the collection reports but does not change - Spot Fleet requests, EC2 Fleets, Elastic Beanstalk
environments - and the record every launch-source reader returns (source_record), for ec2_fleet_info's audit
(launch_source_audit.py). Pure judgements, thin I/O. Private to the collection.

Report-only readers, for ec2_fleet_info's launch-sources audit. `expected` is ec2_fleet_info's (instance_profile,
http_tokens, http_endpoint, min_hop_limit; None -> DEFAULT_EXPECTED, IMDSv2 required). Each returns records:
    {"kind": "spot_fleet" | "ec2_fleet" | "elasticbeanstalk", "id", "name", "state", "type",
     "launch_templates": [{id, name, requested_version, version, instance_profile, metadata_options, findings}],
     "launch_specifications": [{index, instance_profile, metadata_options, findings}]   (Spot Fleet requests),
     "instances": [instance id] (Beanstalk; [] otherwise),
     "findings": sorted union (fleet/audit.py's finding names; template_not_found for a missing version),
     "compliant": bool, "proposed_change": None or {"summary": text, "operation": "service:Operation" of the call to
     make (ec2:ModifySpotFleetRequest, ec2:ModifyFleet, ec2:RequestSpotFleet, elasticbeanstalk:UpdateEnvironment) or
     None, "params": its arguments or None, "template_versions": [{launch_template_id, launch_template_name, source_version, version_created
     (predicted), make_default, launch_template_data}]}}
    observe_spot_fleets(ec2, expected=None) -> [record]   DescribeSpotFleetRequests (paginated), requests in
        submitted / active / modifying only; + resolve_versions
    observe_ec2_fleets(ec2, expected=None) -> [record]    DescribeFleets (paginated), type maintain / request in
        submitted / active / modifying only; + resolve_versions
    beanstalk_environments(instances, expected=None) -> [record]   (pure) fleet.selection.instance_record() dicts
        grouped by the elasticbeanstalk:environment-name tag (their owner)
    spot_fleet_record(config, resolved, expected=None), ec2_fleet_record(fleet, resolved, expected=None): the pure
        halves of the two observers.

AWS facts relied on
-------------------
- Spot Fleet: LaunchSpecifications carry IamInstanceProfile but no MetadataOptions (SpotFleetLaunchSpecification);
  ModifySpotFleetRequest LaunchTemplateConfigs: "You can only use this parameter if you specified a launch template
  (LaunchTemplateConfigs) in your Spot Fleet request"; ModifySpotFleetRequest and ModifyFleet: "You can only modify
  ... of type maintain". Request states submitted | active | cancelled | failed | cancelled_running |
  cancelled_terminating | modifying; fleet states submitted | active | deleted | failed | deleted_running |
  deleted_terminating | modifying (EC2 API reference).
- A fleet's launch template Version is "The launch template version number, $Latest, or $Default" (a new version is
  launched at once under $Latest; under $Default once it is the default). DescribeFleets: "If a fleet is of type
  instant, you must specify the fleet ID in the request, otherwise the fleet does not appear in the response";
  an instant fleet launches once and never again.
- Elastic Beanstalk tags its instances elasticbeanstalk:environment-name and elasticbeanstalk:environment-id
  (Elastic Beanstalk developer guide, "Tagging Elastic Beanstalk environments"); its launch settings are option
  settings of namespace aws:autoscaling:launchconfiguration: IamInstanceProfile (a name or ARN) and DisableIMDSv1
  (true: IMDSv2 only), changed with UpdateEnvironment ("Configuring the instance metadata service on your
  environment's instances"). It has no option for the hop limit or the endpoint.
"""

from __future__ import annotations

from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import paginate
from ansible_collections.keyless.aws.plugins.module_utils.ec2account.managed_sources import (
    DEFAULT_EXPECTED,
    ref_key,
    resolve_versions,
    template_ref,
)
from ansible_collections.keyless.aws.plugins.module_utils.fleet.audit import (
    TEMPLATE_NOT_FOUND,
    profile_view,
    template_findings,
    template_view,
)
from ansible_collections.keyless.aws.plugins.module_utils.fleet.metadata import full_request, options_view

ACTIVE_FLEET_STATES = ("submitted", "active", "modifying")
FLEET_TYPES = ("maintain", "request")
BEANSTALK_NAMESPACE = "aws:autoscaling:launchconfiguration"


# ---------------------------------------------------------------- report-only readers (pure halves)

def _expected(expected):
    return dict(expected) if expected else dict(DEFAULT_EXPECTED)


def compliant_change(data, findings, expected):
    """The launch template data parameters that make `data` compliant (pure): {} when nothing is needed."""
    wanted = {}
    if "imdsv1_allowed" in findings:
        wanted["HttpTokens"] = "required"
    elif "imdsv2_required" in findings:
        wanted["HttpTokens"] = "optional"
    if "endpoint_disabled" in findings:
        wanted["HttpEndpoint"] = "enabled"
    elif "endpoint_enabled" in findings:
        wanted["HttpEndpoint"] = "disabled"
    if "hop_limit_below_minimum" in findings:
        wanted["HttpPutResponseHopLimit"] = int(expected["min_hop_limit"])
    change = {}
    if "no_profile" in findings or "wrong_profile" in findings:
        profile = expected["instance_profile"]
        change["IamInstanceProfile"] = {"Arn": profile} if profile.startswith("arn:") else {"Name": profile}
    if wanted:
        change["MetadataOptions"] = full_request((data or {}).get("MetadataOptions"), wanted)
    return change


def template_entries(configs, resolved, expected):
    """One (entry, change, ref, latest) per LaunchTemplateConfigs item ({"LaunchTemplateSpecification": spec}): the
    resolved version's view with its findings and requested_version, and the data that would make it compliant."""
    entries = []
    for config in configs or ():
        ref = template_ref(config.get("LaunchTemplateSpecification"))
        version = (resolved.get(ref_key(ref)) or {}).get("version")
        if version is None:
            entry = {"id": ref["id"], "name": ref["name"], "version": None, "instance_profile": None,
                     "metadata_options": None, "findings": [TEMPLATE_NOT_FOUND]}
            change = {}
        else:
            entry = template_view(version)
            entry["findings"] = template_findings(entry, expected)
            change = compliant_change(version.get("LaunchTemplateData"), entry["findings"], expected)
        entry["requested_version"] = ref["version"]
        entries.append((entry, change, ref, (resolved.get(ref_key(ref)) or {}).get("latest")))
    return entries


def _template_versions(entries):
    """The compliant versions to create: one per distinct (template, source version), numbers predicted."""
    out, seen, next_number = [], {}, {}
    for entry, change, _ref, latest in entries:
        if not change:
            continue
        key = (entry["id"], entry["version"])
        if key in seen:
            continue
        base = next_number.get(entry["id"], (latest or {}).get("VersionNumber") or entry["version"])
        next_number[entry["id"]] = base + 1
        seen[key] = base + 1
        out.append({"launch_template_id": entry["id"], "launch_template_name": entry["name"],
                    "source_version": entry["version"], "version_created": base + 1,
                    "make_default": entry["requested_version"] == "$Default", "launch_template_data": change})
    return out, seen


def _fleet_change(kind, fleet_id, fleet_type, configs, entries):
    """proposed_change of a fleet launching from templates (Spot Fleet request or EC2 Fleet)."""
    versions, created = _template_versions(entries)
    if not versions:
        if any(TEMPLATE_NOT_FOUND in e["findings"] for e, _c, _r, _l in entries):
            return {"summary": "a launch template version the fleet names does not exist: the fleet cannot launch "
                               "from it; name an existing compliant version", "operation": None, "params": None,
                    "template_versions": []}
        return None
    operation, id_key = ("ec2:ModifySpotFleetRequest", "SpotFleetRequestId") if kind == "spot_fleet" else \
        ("ec2:ModifyFleet", "FleetId")
    pinned = [e for e, c, _r, _l in entries if c and e["requested_version"] not in ("$Latest", "$Default")]
    text = "create the compliant launch template version(s) from the version(s) the fleet launches"
    params = None
    if not pinned:
        text += "; the fleet names $Latest or $Default, so the new version (made the default for $Default) is " \
                "launched without changing the fleet"
        operation = None
    elif fleet_type != "maintain":
        text += ("; the fleet is of type %s, which %s cannot change (only maintain) and which launches no "
                 "replacements: name the new version in the next request" % (fleet_type, operation))
        operation = None
    else:
        new_configs = []
        for config, (entry, _change, _ref, _latest) in zip(configs, entries):
            spec = dict(config.get("LaunchTemplateSpecification") or {})
            number = created.get((entry["id"], entry["version"]))
            if number is not None and entry["requested_version"] not in ("$Latest", "$Default"):
                spec["Version"] = str(number)
            new_configs.append(dict(config, LaunchTemplateSpecification=spec))
        params = {id_key: fleet_id, "LaunchTemplateConfigs": new_configs}
        text += "; then %s with LaunchTemplateConfigs naming them" % operation
    return {"summary": text, "operation": operation, "params": params, "template_versions": versions}


def source_record(kind, ident, name, state, fleet_type, entries=(), specs=(), instances=(), change=None):
    """A launch source's record (the shape every reader returns; see the module docstring)."""
    findings = sorted({f for e in list(entries) + list(specs) + list(instances) for f in e["findings"]})
    return {"kind": kind, "id": ident, "name": name, "state": state, "type": fleet_type,
            "launch_templates": list(entries), "launch_specifications": list(specs),
            "instances": [i["instance_id"] for i in instances],
            "findings": findings, "compliant": not findings, "proposed_change": change if findings else None}


def spot_fleet_record(config, resolved, expected=None):
    """The record of one DescribeSpotFleetRequests entry (pure)."""
    expected = _expected(expected)
    data = config.get("SpotFleetRequestConfig") or {}
    fleet_id = config.get("SpotFleetRequestId")
    configs = data.get("LaunchTemplateConfigs") or []
    entries = template_entries(configs, resolved, expected)
    specs = []
    for index, spec in enumerate(data.get("LaunchSpecifications") or ()):
        view = {"index": index, "instance_profile": profile_view(spec.get("IamInstanceProfile")),
                "metadata_options": {}}
        view["findings"] = template_findings(view, expected)
        specs.append(view)
    change = _fleet_change("spot_fleet", fleet_id, data.get("Type"), configs, entries) if entries else None
    if any(s["findings"] for s in specs):
        wanted = compliant_change({}, sorted({f for s in specs for f in s["findings"]}), expected)
        change = {"summary": "launch specifications cannot be changed (ModifySpotFleetRequest takes "
                             "LaunchTemplateConfigs only for requests made with them, and launch specifications carry "
                             "no MetadataOptions): request a new Spot Fleet from a launch template with this data, "
                             "then cancel this request; launches without MetadataOptions also follow the account's "
                             "IMDS defaults (keyless.aws.ec2_metadata_defaults)",
                  "operation": "ec2:RequestSpotFleet", "params": None,
                  "template_versions": [{"launch_template_id": None, "launch_template_name": None,
                                         "source_version": None, "version_created": None, "make_default": False,
                                         "launch_template_data": wanted}]}
    return source_record("spot_fleet", fleet_id, None, config.get("SpotFleetRequestState"), data.get("Type"),
                         [e for e, _c, _r, _l in entries], specs, change=change)


def ec2_fleet_record(fleet, resolved, expected=None):
    """The record of one DescribeFleets entry (pure)."""
    expected = _expected(expected)
    configs = fleet.get("LaunchTemplateConfigs") or []
    entries = template_entries(configs, resolved, expected)
    change = _fleet_change("ec2_fleet", fleet.get("FleetId"), fleet.get("Type"), configs, entries)
    return source_record("ec2_fleet", fleet.get("FleetId"), None, fleet.get("FleetState"), fleet.get("Type"),
                         [e for e, _c, _r, _l in entries], change=change)


def _beanstalk_name(record):
    owner = record.get("owner") or {}
    if owner.get("kind") != "elasticbeanstalk":
        return None
    tags = owner.get("tags") or {}
    return tags.get("elasticbeanstalk:environment-name") or owner.get("name")


def beanstalk_environments(instances, expected=None):
    """One record per Elastic Beanstalk environment among `instances` (instance_record() dicts), judged from what
    its instances run with (pure)."""
    expected = _expected(expected)
    groups = {}
    for record in instances or ():
        name = _beanstalk_name(record)
        if name:
            groups.setdefault(name, []).append(record)
    out = []
    for name in sorted(groups):
        members = sorted(groups[name], key=lambda r: r["instance_id"])
        views = []
        for record in members:
            arn = record.get("profile_arn")
            view = {"instance_id": record["instance_id"],
                    "instance_profile": profile_view({"Arn": arn}) if arn else None,
                    "metadata_options": options_view(record.get("metadata"))}
            view["findings"] = template_findings(view, expected)
            views.append(view)
        findings = sorted({f for v in views for f in v["findings"]})
        settings = []
        if "no_profile" in findings or "wrong_profile" in findings:
            settings.append({"Namespace": BEANSTALK_NAMESPACE, "OptionName": "IamInstanceProfile",
                             "Value": expected["instance_profile"]})
        if "imdsv1_allowed" in findings or "imdsv2_required" in findings:
            settings.append({"Namespace": BEANSTALK_NAMESPACE, "OptionName": "DisableIMDSv1",
                             "Value": "true" if "imdsv1_allowed" in findings else "false"})
        text = "UpdateEnvironment with these option settings; Elastic Beanstalk replaces its instances itself"
        other = [f for f in findings if f.startswith(("endpoint_", "hop_limit"))]
        if other:
            text += ("; Elastic Beanstalk has no option for %s: new launches follow the account's IMDS defaults "
                     "(keyless.aws.ec2_metadata_defaults)" % ", ".join(other))
        change = {"summary": text, "operation": "elasticbeanstalk:UpdateEnvironment" if settings else None,
                  "params": {"EnvironmentName": name, "OptionSettings": settings} if settings else None,
                  "template_versions": []}
        record = source_record("elasticbeanstalk", None, name, None, None, instances=views, change=change)
        record["instance_findings"] = {v["instance_id"]: v["findings"] for v in views if v["findings"]}
        out.append(record)
    return out


# ---------------------------------------------------------------- report-only readers (I/O)

def _refs(configs_lists):
    return [template_ref(c.get("LaunchTemplateSpecification")) for configs in configs_lists for c in configs or ()]


def observe_spot_fleets(ec2, expected=None):
    """Records of the Spot Fleet requests that can still launch (submitted, active, modifying)."""
    configs = [c for c in paginate(ec2, "DescribeSpotFleetRequests", "SpotFleetRequestConfigs", resource="spot fleets")
               if c.get("SpotFleetRequestState") in ACTIVE_FLEET_STATES]
    resolved = resolve_versions(ec2, _refs((c.get("SpotFleetRequestConfig") or {}).get("LaunchTemplateConfigs")
                                           for c in configs), latest=True)
    return [spot_fleet_record(c, resolved, expected) for c in sorted(configs, key=lambda c: c["SpotFleetRequestId"])]


def observe_ec2_fleets(ec2, expected=None):
    """Records of the EC2 Fleets of type maintain or request that can still launch (submitted, active,
    modifying); instant fleets launch once and are left out."""
    fleets = [f for f in paginate(ec2, "DescribeFleets", "Fleets", resource="EC2 fleets")
              if f.get("Type") in FLEET_TYPES and f.get("FleetState") in ACTIVE_FLEET_STATES]
    resolved = resolve_versions(ec2, _refs(f.get("LaunchTemplateConfigs") for f in fleets), latest=True)
    return [ec2_fleet_record(f, resolved, expected) for f in sorted(fleets, key=lambda f: f["FleetId"])]
