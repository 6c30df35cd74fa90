# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ec2_fleet_info's launch sources: what launches the replacements of the audited instances, judged against the
audit's `expected`. Private to the collection: no stable API.

    observe(clients, records, expected) -> [record]
        clients(service) -> a client (ec2, autoscaling, eks); records: {instance id: fleet.selection.instance_record()}
        of the audited instances. Reads only what their owners name (nothing when no instance has an owner):
        DescribeAutoScalingGroups by name (50 a call), DescribeLaunchConfigurations of those on one, the template
        versions they name (managed_sources.resolve_versions: one call per template), DescribeNodegroup per EKS node
        group, DescribeSpotFleetRequests / DescribeFleets when an instance belongs to one.
    summarize(records) -> {total, compliant, non_compliant, not_read, by_kind, by_finding}

Every record has reported_sources.source_record()'s shape - {kind, id, name, state, type, launch_templates,
launch_specifications, instances (the audited instances it owns), findings, compliant, proposed_change} - plus
`owner` (the service that owns an Auto Scaling group, e.g. EKS for a node group's) and `converge` (what converges
it). Findings are fleet/audit.py's names, plus launch_configuration (a group still on a launch configuration,
which cannot change) and not_found (a group or node group the instances name that is gone).

AWS facts relied on:
- A group launches from its LaunchTemplate, or from the template of its MixedInstancesPolicy and of every
  override, at the version each names (a number, $Latest, or $Default when none is given), or from a launch
  configuration (EC2 Auto Scaling user guide, "Auto Scaling groups with multiple instance types").
- An EKS node group's role belongs to the node group (nodeRole), so only its metadata options are judged; its
  nodes launch from the node group's launch template (DescribeNodegroup launchTemplate) or, without one, from the
  template EKS generated for its Auto Scaling group (EKS user guide, "Customize managed nodes with launch
  templates").
- Karpenter, AWS Batch and ECS capacity providers launch from their own settings, which this module does not
  read: their records say what to converge, with compliant null.
"""

from __future__ import annotations

from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import call, paginate
from ansible_collections.keyless.aws.plugins.module_utils.ec2account.autoscaling import GROUP_NAMES_PER_CALL, launch_sources
from ansible_collections.keyless.aws.plugins.module_utils.ec2account.managed_sources import (
    DEFAULT_EXPECTED,
    ref_key,
    resolve_versions,
    template_ref,
)
from ansible_collections.keyless.aws.plugins.module_utils.ec2account.reported_sources import (
    ACTIVE_FLEET_STATES,
    FLEET_TYPES,
    beanstalk_environments,
    ec2_fleet_record,
    source_record,
    spot_fleet_record,
    template_entries,
)
from ansible_collections.keyless.aws.plugins.module_utils.fleet.audit import template_findings
from ansible_collections.keyless.aws.plugins.module_utils.fleet.metadata import options_view
from ansible_collections.keyless.aws.plugins.module_utils.fleet.ownership import owner_of
from ansible_collections.keyless.aws.plugins.module_utils.fleet.selection import chunks

LAUNCH_CONFIGURATION = "launch_configuration"
NOT_FOUND = "not_found"
NOT_READ_KINDS = ("karpenter", "batch", "ecs")
CONVERGE = {
    "autoscaling": "keyless.aws.autoscaling_group_identity (the role does it for the groups of its fleet)",
    "eks": "keyless.aws.eks_nodegroup_identity (a node group on a custom launch template), or the node group's own "
           "settings",
}


# ---------------------------------------------------------------- pure

def group_configs(group):
    """[{"LaunchTemplateSpecification": spec}] of every template a group launches from (own, mixed, overrides), from
    autoscaling.launch_sources (the one reading of a group's launch sources)."""
    keys = (("LaunchTemplateId", "template_id"), ("LaunchTemplateName", "template_name"), ("Version", "version"))
    return [{"LaunchTemplateSpecification": {api: source[key] for api, key in keys if source.get(key) is not None}}
            for source in launch_sources(group) if "launch_configuration" not in source]


def metadata_only(expected):
    """The metadata part of `expected` (what an owner that keeps its own role is judged on)."""
    return {k: v for k, v in (expected or {}).items() if k in ("http_tokens", "http_endpoint", "min_hop_limit")}


def configuration_view(lc, expected):
    """A launch configuration judged like a template version: its profile and metadata options."""
    profile = lc.get("IamInstanceProfile")
    view = {"launch_configuration": lc.get("LaunchConfigurationName"),
            "instance_profile": ({"arn": profile, "name": profile.rsplit("/", 1)[-1]} if profile.startswith("arn:")
                                 else {"name": profile}) if profile else None,
            "metadata_options": options_view(lc.get("MetadataOptions"))}
    view["findings"] = [LAUNCH_CONFIGURATION] + template_findings(view, expected)
    return view


def group_record(name, group, lc, resolved, expected, instances, owner=None):
    """The record of one Auto Scaling group (None: the group is gone); owner: ownership.owner_of its tags."""
    if group is None:
        return gone("autoscaling", name, instances, "nothing: the group no longer exists")
    entries = template_entries(group_configs(group), resolved, expected)
    specs = [configuration_view(lc or {"LaunchConfigurationName": group["LaunchConfigurationName"]}, expected)] \
        if group.get("LaunchConfigurationName") and not entries else []
    record = source_record("autoscaling", group.get("AutoScalingGroupARN"), name, group.get("Status"), None,
                           [e for e, _c, _r, _l in entries], specs)
    needed = sorted({f for e in record["launch_templates"] + specs for f in e["findings"]})
    change = None
    if needed:
        change = {"summary": "keyless.aws.autoscaling_group_identity names=[%s]%s: a compliant version of each template "
                             "from the version the group launches, and the group pointed at it"
                             % (name, " convert_launch_configurations=true" if specs else ""),
                  "operation": None, "params": None, "template_versions": []}
    converge = owner["converge"] if owner and owner["protected"] else CONVERGE["autoscaling"]
    record.update(instances=instances, owner=_owner_view(owner), converge=converge, proposed_change=change)
    return record


def nodegroup_record(name, nodegroup, group, resolved, expected, instances):
    """The record of one EKS node group: its custom template, or the one its Auto Scaling group launches from."""
    wanted = metadata_only(expected)
    if nodegroup is None:
        return gone("eks", name, instances, "nothing: the node group no longer exists")
    custom = nodegroup.get("launchTemplate")
    configs = [{"LaunchTemplateSpecification": custom}] if custom else group_configs(group or {})
    entries = template_entries(configs, resolved, wanted)
    record = source_record("eks", nodegroup.get("nodegroupArn"), name, nodegroup.get("status"),
                           "custom launch template" if custom else "launch template generated by EKS",
                           [e for e, _c, _r, _l in entries])
    if record["findings"]:
        record["proposed_change"] = {
            "summary": ("keyless.aws.eks_nodegroup_identity: a compliant version of the node group's template and "
                        "UpdateNodegroupVersion" if custom else
                        "the node group launches from the template EKS generated: move it to a custom launch template "
                        "with the metadata options (EKS replaces the nodes), never edit EKS's template"),
            "operation": None, "params": None, "template_versions": []}
    record.update(instances=instances, owner=None, converge=CONVERGE["eks"])
    return record


def gone(kind, name, instances, converge):
    """The record of a launch source the instances name that does not exist any more."""
    record = source_record(kind, None, name, None, None)
    # it launches nothing any more: not read, not non-compliant
    record.update(findings=[NOT_FOUND], compliant=None, instances=instances, owner=None, converge=converge)
    return record


def not_read_record(owner, instances):
    record = source_record(owner["kind"], None, owner.get("name"), None, None)
    record.update(compliant=None, instances=instances, owner=None, converge=owner["converge"], proposed_change=None)
    return record


def summarize(records):
    by_kind, by_finding = {}, {}
    for record in records:
        by_kind[record["kind"]] = by_kind.get(record["kind"], 0) + 1
        for finding in record["findings"]:
            by_finding[finding] = by_finding.get(finding, 0) + 1
    compliant = sum(1 for r in records if r["compliant"] is True)
    not_read = sum(1 for r in records if r["compliant"] is None)
    return {"total": len(records), "compliant": compliant, "non_compliant": len(records) - compliant - not_read,
            "not_read": not_read, "by_kind": by_kind, "by_finding": by_finding}


# ---------------------------------------------------------------- reads

def _owner_view(owner):
    return {key: owner[key] for key in ("kind", "name", "service")} if owner else None


def _owned(records):
    """{(kind, name): [instance ids]} and the owners, from the audited instances' records."""
    owned, owners = {}, {}
    for iid in sorted(records):
        owner = records[iid].get("owner")
        if owner:
            key = (owner["kind"], owner.get("name"))
            owned.setdefault(key, []).append(iid)
            owners.setdefault(key, owner)
    return owned, owners


def _groups(asg, names):
    found = {}
    for chunk in chunks(sorted(set(names)), GROUP_NAMES_PER_CALL):
        for group in paginate(asg, "DescribeAutoScalingGroups", "AutoScalingGroups", {"AutoScalingGroupNames": chunk},
                              resource=", ".join(chunk)):
            found[group["AutoScalingGroupName"]] = group
    return found


def observe(clients, records, expected):
    """See the module docstring. Without `expected`, sources are judged against managed_sources.DEFAULT_EXPECTED
    (http_tokens required), as its readers are."""
    expected = expected or dict(DEFAULT_EXPECTED)
    owned, owners = _owned(records)
    if not owned:
        return []
    ec2 = clients("ec2")
    group_names = [name for kind, name in owned if kind == "autoscaling" and name]
    eks_groups = {key: owners[key]["tags"].get("aws:autoscaling:groupName") for key in owned if key[0] == "eks"}
    groups = _groups(clients("autoscaling"), group_names + [g for g in eks_groups.values() if g]) \
        if group_names or any(eks_groups.values()) else {}
    lc_names = sorted({g["LaunchConfigurationName"] for g in groups.values()
                       if g.get("LaunchConfigurationName") and not group_configs(g)})
    lcs = {lc["LaunchConfigurationName"]: lc for chunk in chunks(lc_names, GROUP_NAMES_PER_CALL)
           for lc in paginate(clients("autoscaling"), "DescribeLaunchConfigurations", "LaunchConfigurations",
                              {"LaunchConfigurationNames": chunk}, resource=", ".join(chunk))}
    nodegroups = {}
    for key in sorted(k for k in owned if k[0] == "eks"):
        cluster, _sep, nodegroup = (key[1] or "").partition("/")
        if cluster and nodegroup:
            answer = call(clients("eks"), "DescribeNodegroup", {"clusterName": cluster, "nodegroupName": nodegroup},
                          resource=key[1], missing=("ResourceNotFoundException",))
            nodegroups[key] = (answer or {}).get("nodegroup")
    configs = [c for g in groups.values() for c in group_configs(g)]
    configs += [{"LaunchTemplateSpecification": n["launchTemplate"]} for n in nodegroups.values()
                if n and n.get("launchTemplate")]
    refs = {ref_key(template_ref(c["LaunchTemplateSpecification"])): template_ref(c["LaunchTemplateSpecification"])
            for c in configs}
    resolved = resolve_versions(ec2, list(refs.values())) if refs else {}

    out = []
    for key in sorted(owned, key=lambda k: (k[0], k[1] or "")):
        kind, name = key
        if kind == "autoscaling":
            group = groups.get(name)
            out.append(group_record(name, group, lcs.get((group or {}).get("LaunchConfigurationName")), resolved,
                                    expected, owned[key], owner_of((group or {}).get("Tags") or [])))
        elif kind == "eks":
            out.append(nodegroup_record(name, nodegroups.get(key), groups.get(eks_groups.get(key)), resolved, expected,
                                        owned[key]))
        elif kind in NOT_READ_KINDS:
            out.append(not_read_record(owners[key], owned[key]))
    beanstalk = [records[iid] for key, ids in owned.items() if key[0] == "elasticbeanstalk" for iid in ids]
    for record in beanstalk_environments(beanstalk, expected):
        record.update(owner=None, converge=owners[("elasticbeanstalk", record["name"])]["converge"]
                      if ("elasticbeanstalk", record["name"]) in owners else None)
        out.append(record)
    for kind, operation, key, reader in (("spot_fleet", "DescribeSpotFleetRequests", "SpotFleetRequestConfigs",
                                          spot_fleet_record),
                                         ("ec2_fleet", "DescribeFleets", "Fleets", ec2_fleet_record)):
        ids = sorted(name for k, name in owned if k == kind and name)
        if ids:
            out.extend(_fleets(ec2, kind, operation, key, reader, ids, owned, expected))
    return out


def _read_fleets(ec2, operation, key, id_param, ids):
    """The fleets of these ids that AWS still knows: one call, or one per id when an id is unknown (a request
    cancelled long ago leaves its tag on the instances it launched; AWS fails the whole call for it)."""
    try:
        return paginate(ec2, operation, key, {id_param: ids}, resource=", ".join(ids))
    except AwsCallError as exc:
        if not any(mark in (exc.code or "") for mark in ("NotFound", "Malformed")):
            raise
        if len(ids) == 1:
            return []
    return [item for one in ids for item in _read_fleets(ec2, operation, key, id_param, [one])]


def _fleets(ec2, kind, operation, key, reader, ids, owned, expected):
    id_param = "SpotFleetRequestIds" if kind == "spot_fleet" else "FleetIds"
    id_key = "SpotFleetRequestId" if kind == "spot_fleet" else "FleetId"
    # only what can still launch a replacement: active requests and fleets, never an instant fleet
    items = [item for item in _read_fleets(ec2, operation, key, id_param, ids)
             if (item.get("SpotFleetRequestState") or item.get("FleetState")) in ACTIVE_FLEET_STATES
             and ((item.get("SpotFleetRequestConfig") or {}).get("Type") or item.get("Type")) in FLEET_TYPES]

    def configs_of(item):
        return (item.get("SpotFleetRequestConfig") or {}).get("LaunchTemplateConfigs") if kind == "spot_fleet" \
            else item.get("LaunchTemplateConfigs")
    refs = [template_ref(c.get("LaunchTemplateSpecification")) for item in items for c in configs_of(item) or ()]
    resolved = resolve_versions(ec2, refs, latest=True) if refs else {}
    out = []
    for item in sorted(items, key=lambda i: i[id_key]):
        record = reader(item, resolved, expected)
        record.update(instances=owned.get((kind, item[id_key]), []), owner=None,
                      converge="a compliant version of its launch template, named in the %s (see proposed_change)"
                      % ("Spot Fleet request" if kind == "spot_fleet" else "EC2 Fleet"))
        out.append(record)
    return out
