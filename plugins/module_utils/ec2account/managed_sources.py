# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Launch sources that an AWS service owns: EKS managed node groups (converged through EKS's own API), and the one
resolver of launch template versions every launch-source reader shares. Private to the collection.

The rule: never edit an instance a service owns, nor a template a service generated. Converge the owner's launch
source through the owner's API (a node group's own template gets a new version, then UpdateNodegroupVersion
makes EKS replace the nodes itself), or report the exact change to make. Pure judgements, thin I/O.

Contract
--------
One resolver of launch template versions, shared by every reader:
    template_ref(spec) -> {"id", "name", "version"}   (pure) from an EC2 spec (LaunchTemplateId / LaunchTemplateName /
        Version) or an EKS one (id / name / version); no version reads "$Default".
    ref_key(ref) -> hashable key of a ref in resolve_versions' answer.
    resolve_versions(ec2, refs, latest=False) -> {ref_key(ref): {"version": item | None, "latest": item | None}}
        items are DescribeLaunchTemplateVersions entries; one call per distinct template (its versions together,
        and "$Latest" with latest=True); a template or version that does not exist any more -> None.

EKS managed node groups (keyless.aws.eks_nodegroup_identity):
    validate_nodegroup_params(params) -> [error]        (pure) clusters, nodegroups, the two metadata options,
        allow_hop_limit_1
    select_nodegroups(eks, clusters, names=None) -> [DescribeNodegroup "nodegroup" dicts], by cluster then name;
        ListNodegroups (paginated) per cluster; clusters or named node groups that do not exist fail naming them.
    plan_nodegroup(nodegroup, resolved, desired, allow_hop_limit_1=False, shape=None) -> item   (pure)
        desired: {"metadata": {HttpTokens?, HttpPutResponseHopLimit?}}; shape: botocore's RequestLaunchTemplateData.
        item: cluster, name, nodegroup_status, launch_template_before / _after ({id, name, version (str, as EKS
        reports it)} or None), action (none | create_version | update_nodegroup | hold | skip), status (unchanged |
        changed | held | skipped; failed after apply), reason, update_id, version_created (int or None),
        changed_fields, before / after (the declared metadata options), and private keys for the calls.
    number_versions(items) -> items      (pure) the predicted numbers when several node groups get versions of one
        template: latest + 1, + 2, ... in order (each node group gets its own version)
    nodegroup_plan(item) -> Plan          CreateLaunchTemplateVersion (ec2) and/or UpdateNodegroupVersion (eks)
    apply_nodegroups(client_for, items, progress) -> [failed item]   one node group's failure never stops the others;
        UpdateNodegroupVersion answered ResourceInUseException (an update in progress) -> held, not failed.
    summarize_nodegroups(items) -> {total, changed, unchanged, held, skipped, failed, by_action}
    failure_text(failed) -> the task's failure message naming each failed node group

The report-only readers of Spot Fleets, EC2 Fleets and Elastic Beanstalk environments are in reported_sources.py.

AWS facts relied on
-------------------
- EKS LaunchTemplateSpecification: "The launch template can't include SubnetId, IamInstanceProfile,
  RequestSpotInstances, HibernationOptions, or TerminateInstances, or the node group deployment or update will
  fail"; "If no version is specified, then the template's default version is used"; "After node group creation,
  you cannot use a different name/ID" (EKS API reference). The node's role is the node group's nodeRole.
- UpdateNodegroupVersion: "You can update a node group using a launch template only if the node group was
  originally deployed with a launch template. Additionally, the launch template ID or name must match what was
  used when the node group was created. You can update the launch template version with necessary changes."
  EKS then drains and replaces the nodes (it honours PodDisruptionBudgets unless force). A node group being
  updated answers ResourceInUseException; its status is UPDATING (statuses: CREATING, ACTIVE, UPDATING, DELETING,
  CREATE_FAILED, DELETE_FAILED, DEGRADED). So a node group on the template EKS generated cannot be moved to a
  template of ours: the change to make is a new node group with a custom template.
- DescribeNodegroup reports launchTemplate.version as a number even when $Default / $Latest was given
  (terraform-provider-aws documents this for aws_eks_node_group).
- Pods reach IMDS through one more network hop than the node: with IMDSv2 required and a hop limit of 1, a pod's
  token request never comes back (EC2 user guide, "Configure the instance metadata options": "in a container
  environment, we recommend setting the hop limit to 2"). EKS's best practices ("Restrict access to the instance
  profile assigned to the worker node") set 1 on purpose so that pods cannot use the node role; such pods need
  IRSA or EKS Pod Identity. So a change that leaves IMDSv2 required below 2 hops is refused unless
  allow_hop_limit_1; a template that does not set the hop limit counts as 1 (EC2's documented default of
  HttpPutResponseHopLimit, unless an account default says otherwise, which this module does not read).
- CreateLaunchTemplateVersion with SourceVersion starts from that version and overrides the parameters given;
  a ClientToken makes a retried call return the version it made (launch_templates.py).
"""

from __future__ import annotations

from ansible_collections.keyless.aws.plugins.module_utils.aws import rules
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError
from ansible_collections.keyless.aws.plugins.module_utils.aws.plan import Plan, apply_plan
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import call, paginate
from ansible_collections.keyless.aws.plugins.module_utils.ec2account.launch_templates import (
    client_token,
    project,
    request_data,
)
from ansible_collections.keyless.aws.plugins.module_utils.fleet.ownership import CONTAINER_HOP_LIMIT
from ansible_collections.keyless.aws.plugins.module_utils.fleet.metadata import (
    API_TO_OPTION,
    full_request,
    metadata_changes,
    validate_metadata,
)

DEFAULT_EXPECTED = {"http_tokens": "required"}
EC2_DEFAULT_HOP_LIMIT = 1
EKS_METADATA_OPTIONS = ("http_tokens", "http_put_response_hop_limit")
NODEGROUP_STATUS = {"none": "unchanged", "create_version": "changed", "update_nodegroup": "changed",
                    "hold": "held", "skip": "skipped"}
BUSY_STATUSES = ("CREATING", "UPDATING")
UPDATABLE_STATUSES = ("ACTIVE", "DEGRADED")
VERSION_DESCRIPTION = "keyless.aws: metadata options set on version %s for EKS node group %s"
_NOT_FOUND_MARKS = ("NotFound", "Malformed")


# ---------------------------------------------------------------- the one resolver

def template_ref(spec):
    """{"id", "name", "version"} of an EC2 or EKS launch template specification (pure)."""
    spec = spec or {}
    version = spec.get("Version", spec.get("version"))
    return {"id": spec.get("LaunchTemplateId") or spec.get("id"),
            "name": spec.get("LaunchTemplateName") or spec.get("name"),
            "version": str(version) if version not in (None, "") else "$Default"}


def _template_key(ref):
    return ("id", ref["id"]) if ref.get("id") else ("name", ref["name"])


def ref_key(ref):
    return _template_key(ref) + (ref["version"],)


def _pick(items, version):
    """The item of `items` that `version` ("3", "$Default", "$Latest") names, or None."""
    if not items:
        return None
    if version == "$Latest":
        return max(items, key=lambda v: v["VersionNumber"])
    if version == "$Default":
        return next((v for v in items if v.get("DefaultVersion")), None)
    return next((v for v in items if str(v["VersionNumber"]) == version), None)


def _missing(exc):
    return any(mark in (exc.code or "") for mark in _NOT_FOUND_MARKS)


def _describe_versions(ec2, ref, versions):
    """DescribeLaunchTemplateVersions items of these versions; [] when the template is gone. A missing version
    fails the whole call, so then each version is read alone."""
    kind, value = _template_key(ref)
    params = {"LaunchTemplateId" if kind == "id" else "LaunchTemplateName": value}
    try:
        return call(ec2, "DescribeLaunchTemplateVersions", dict(params, Versions=list(versions)),
                    resource=value).get("LaunchTemplateVersions") or []
    except AwsCallError as exc:
        if not _missing(exc):
            raise
        if "VersionNotFound" not in exc.code or len(versions) == 1:
            return []
    return [item for version in versions for item in _describe_versions(ec2, ref, [version])]


def resolve_versions(ec2, refs, latest=False):
    """See the module docstring."""
    by_template = {}
    for ref in refs:
        by_template.setdefault(_template_key(ref), (ref, set()))[1].add(ref["version"])
    out = {}
    for key in sorted(by_template):
        ref, versions = by_template[key]
        items = _describe_versions(ec2, ref, sorted(versions | ({"$Latest"} if latest else set())))
        newest = _pick(items, "$Latest") if latest else None
        for version in versions:
            out[key + (version,)] = {"version": _pick(items, version), "latest": newest}
    return out


# ---------------------------------------------------------------- EKS managed node groups

def validate_nodegroup_params(params):
    """Pure checks of eks_nodegroup_identity's options; every bad input named with what is allowed."""
    errors = []
    clusters = params.get("clusters") or []
    if not clusters:
        errors.append("clusters is empty: name at least one EKS cluster")
    for option in ("clusters", "nodegroups"):
        bad = [n for n in params.get(option) or [] if not rules.is_eks_name(n)]
        if bad:
            errors.append("%s has invalid names %s: 1 to 100 letters, digits, - and _, starting with a letter or "
                          "digit" % (option, ", ".join(repr(n) for n in bad[:10])))
    errors.extend(validate_metadata({k: params.get(k) for k in EKS_METADATA_OPTIONS}))
    tokens, hop = params.get("http_tokens"), params.get("http_put_response_hop_limit")
    if tokens is None and hop is None:
        errors.append("nothing to ensure: give http_tokens and/or http_put_response_hop_limit")
    if tokens == "required" and isinstance(hop, int) and hop < CONTAINER_HOP_LIMIT and \
            not params.get("allow_hop_limit_1"):
        errors.append("http_put_response_hop_limit=%d with http_tokens=required cuts the pods of an EKS node off "
                      "IMDS (a pod is one more hop away): use 2, or set allow_hop_limit_1=true when the pods use "
                      "IRSA or EKS Pod Identity and must not reach the node role" % hop)
    return errors


def select_nodegroups(eks, clusters, names=None):
    """The selected node groups (DescribeNodegroup "nodegroup" dicts), by cluster then name."""
    listed, gone = {}, []
    for cluster in clusters:
        try:
            listed[cluster] = paginate(eks, "ListNodegroups", "nodegroups", {"clusterName": cluster}, resource=cluster)
        except AwsCallError as exc:
            if exc.code != "ResourceNotFoundException":
                raise
            gone.append(cluster)
    if gone:
        raise AwsCallError("ListNodegroups", "ResourceNotFoundException", "clusters %s do not exist in this region"
                           % ", ".join(gone), ", ".join(gone), hint="check the cluster names and the region")
    if names:
        missing = sorted(set(names) - {n for found in listed.values() for n in found})
        if missing:
            raise AwsCallError("ListNodegroups", "ResourceNotFoundException", "nodegroups %s are in none of the "
                               "clusters %s" % (", ".join(missing), ", ".join(clusters)), ", ".join(missing),
                               hint="check the node group names and the clusters")
    out = []
    for cluster in clusters:
        for name in sorted(listed[cluster]):
            if names and name not in names:
                continue
            found = call(eks, "DescribeNodegroup", {"clusterName": cluster, "nodegroupName": name},
                         resource="%s/%s" % (cluster, name), missing=("ResourceNotFoundException",))
            if found:  # None: deleted since the listing
                out.append(found["nodegroup"])
    return out


def _view(data, desired):
    current = (data or {}).get("MetadataOptions") or {}
    return {"metadata_options": {API_TO_OPTION[k]: current.get(k) for k in sorted(desired)}}


def _options_text(options):
    return "{%s}" % ", ".join("%s: %s" % (k, options[k]) for k in ("HttpTokens", "HttpPutResponseHopLimit")
                              if k in options)


def wanted_options(desired_metadata, allow_hop_limit_1=False):
    """The MetadataOptions a node group's template should carry: the given fields, and hop limit 2 with IMDSv2
    required unless the user gave one or allowed 1."""
    wanted = dict(desired_metadata)
    if wanted.get("HttpTokens") == "required" and "HttpPutResponseHopLimit" not in wanted and not allow_hop_limit_1:
        wanted["HttpPutResponseHopLimit"] = CONTAINER_HOP_LIMIT
    return wanted


def hop_limit_refusal(options, allow_hop_limit_1):
    """Why MetadataOptions `options` would break the pods of a node (None: they would not)."""
    if allow_hop_limit_1 or options.get("HttpTokens") != "required":
        return None
    hop = options.get("HttpPutResponseHopLimit")
    if hop is not None and int(hop) >= CONTAINER_HOP_LIMIT:
        return None
    told = "a hop limit of %s" % hop if hop is not None else \
        "no hop limit (EC2's default is %d)" % EC2_DEFAULT_HOP_LIMIT
    return ("IMDSv2 required with %s would cut the node's pods off IMDS (a pod is one hop further): give "
            "http_put_response_hop_limit: 2, or allow_hop_limit_1: true when the pods use IRSA or EKS Pod "
            "Identity and must not reach the node role" % told)


def plan_nodegroup(nodegroup, resolved, desired, allow_hop_limit_1=False, shape=None):
    """What to do with one node group (pure); see the module docstring for the item."""
    metadata = desired.get("metadata") or {}
    cluster, name = nodegroup["clusterName"], nodegroup["nodegroupName"]
    status = nodegroup.get("status")
    spec = nodegroup.get("launchTemplate")
    item = {"cluster": cluster, "name": name, "nodegroup_status": status, "launch_template_before": None,
            "launch_template_after": None, "action": "none", "reason": "", "update_id": None,
            "version_created": None, "changed_fields": [], "before": {}, "after": {}, "data": None}
    if not spec:
        item.update(action="hold", reason=(
            "the node group launches from the template EKS generated, which keyless.aws never edits, and EKS cannot "
            "move a node group to a launch template afterwards: create a node group with a custom launch template "
            "carrying MetadataOptions %s (and no IamInstanceProfile), move the workloads, then delete this one"
            % _options_text(wanted_options(metadata, allow_hop_limit_1))))
        return item
    ref = template_ref(spec)
    found = resolved.get(ref_key(ref)) or {}
    version, latest = found.get("version"), found.get("latest")
    before_lt = {"id": ref["id"], "name": ref["name"], "version": ref["version"]}
    item.update(launch_template_before=before_lt, launch_template_after=before_lt)
    if version is None:
        item.update(action="hold", reason="launch template %s version %s does not exist any more: EKS cannot launch "
                                          "from it; fix the node group first" % (ref["id"] or ref["name"], ref["version"]))
        return item
    data = version.get("LaunchTemplateData") or {}
    current = data.get("MetadataOptions") or {}
    changes = metadata_changes(current, metadata)
    item["before"] = item["after"] = _view(data, metadata)
    if not changes:
        item["reason"] = "version %s already carries the metadata options" % ref["version"]
        return item
    new_options = full_request(current, metadata)
    if status in BUSY_STATUSES:
        refusal = "the node group is %s: rerun when it is ACTIVE" % status
    elif status not in UPDATABLE_STATUSES:
        item.update(action="skip", reason="the node group is %s and cannot be updated" % status)
        return item
    elif data.get("IamInstanceProfile"):
        refusal = ("version %s carries IamInstanceProfile, which EKS refuses in a node group's template (the node role "
                   "is the node group's nodeRole): remove it from the template first" % ref["version"])
    else:
        refusal = hop_limit_refusal(new_options, allow_hop_limit_1)
    if refusal:
        item.update(action="hold", reason=refusal)
        return item
    options_shape = shape.members["MetadataOptions"] if shape is not None else None
    change = {"MetadataOptions": project(new_options, options_shape)}
    new_data = dict(request_data(data, shape), **change)
    item.update(after=_view(new_data, metadata), changed_fields=["MetadataOptions.%s" % k for k in sorted(changes)],
                source_version=version["VersionNumber"], template_id=version["LaunchTemplateId"])
    if latest is not None and latest["VersionNumber"] != version["VersionNumber"] and \
            request_data(latest.get("LaunchTemplateData") or {}, shape) == new_data:
        number = latest["VersionNumber"]
        item.update(action="update_nodegroup", reason="version %d already carries the change (an earlier run): move "
                                                      "the node group to it" % number)
    else:
        number = (latest or version)["VersionNumber"] + 1
        item.update(action="create_version", data=change, version_created=number,
                    reason="version %d from version %s with the metadata options, then the node group moves to it "
                           "(EKS replaces the nodes)" % (number, ref["version"]))
    item["launch_template_after"] = dict(before_lt, version=str(number))
    return item


def number_versions(items):
    """Predicted version numbers when several node groups get a version of one template (pure): AWS numbers them in
    the order they are made, from the template's latest + 1. Updates each create_version item in place."""
    following = {}
    for item in items:
        if item["action"] != "create_version":
            continue
        number = following.get(item["template_id"], item["version_created"])
        following[item["template_id"]] = number + 1
        if number != item["version_created"]:
            item["reason"] = item["reason"].replace("version %d " % item["version_created"], "version %d " % number, 1)
            item["version_created"] = number
            item["launch_template_after"] = dict(item["launch_template_after"], version=str(number))
    return items


def nodegroup_plan(item):
    """The calls of one planned node group: CreateLaunchTemplateVersion (from the version the node group names,
    with only MetadataOptions and an idempotency token) and UpdateNodegroupVersion to the version that carries the
    change (read from the item when the call is made: apply_nodegroups records the number AWS gave)."""
    plan = Plan()
    target = "%s/%s" % (item["cluster"], item["name"])
    if item["action"] == "create_version":
        plan.add("CreateLaunchTemplateVersion", item["template_id"], {
            "LaunchTemplateId": item["template_id"], "SourceVersion": str(item["source_version"]),
            "VersionDescription": VERSION_DESCRIPTION % (item["source_version"], target),
            "LaunchTemplateData": item["data"],
            # the node group is part of the token: its VersionDescription names it, and AWS refuses a token it has
            # seen with other parameters (IdempotentParameterMismatch); each node group gets its own version
            "ClientToken": client_token(item["template_id"], item["source_version"], dict(item["data"], _for=target))},
            before=item["source_version"], after=item["version_created"], service="ec2")
    if item["action"] in ("create_version", "update_nodegroup"):
        plan.add("UpdateNodegroupVersion", target, lambda _responses: {
            "clusterName": item["cluster"], "nodegroupName": item["name"],
            "launchTemplate": {"id": item["template_id"], "version": item["launch_template_after"]["version"]}},
            before=item["launch_template_before"], after=item["launch_template_after"], service="eks")
    return plan


def apply_nodegroups(client_for, items, progress):
    """Make the calls of every planned node group (see the module docstring). Returns the failed items."""
    failed = []
    for item in items:
        created = False
        try:
            for change in nodegroup_plan(item):
                [response] = apply_plan(client_for, Plan([change]), progress)
                if change.operation == "CreateLaunchTemplateVersion":
                    number = response["LaunchTemplateVersion"]["VersionNumber"]
                    item["version_created"], created = number, True
                    item["launch_template_after"] = dict(item["launch_template_after"], version=str(number))
                else:
                    item["update_id"] = (response.get("update") or {}).get("id")
        except AwsCallError as exc:
            if exc.operation == "UpdateNodegroupVersion" and exc.code == "ResourceInUseException":
                item.update(status="held", launch_template_after=item["launch_template_before"], reason=(
                    "an update of the node group is in progress (UpdateNodegroupVersion answered "
                    "ResourceInUseException): rerun when it is ACTIVE%s"
                    % ("; version %d was created and the rerun moves the node group to it" % item["version_created"]
                       if created else "")))
                continue
            item.update(status="failed", reason=exc.text())
            failed.append(item)
    return failed


def failure_text(failed):
    """The task's failure message naming every failed node group."""
    return "%d node group(s) failed: %s" % (len(failed), "; ".join(
        "%s/%s: %s" % (f["cluster"], f["name"], f["reason"]) for f in failed))


def summarize_nodegroups(items):
    summary = {"total": len(items), "changed": 0, "unchanged": 0, "held": 0, "skipped": 0, "failed": 0,
               "by_action": {}}
    for item in items:
        summary[item["status"]] += 1
        summary["by_action"][item["action"]] = summary["by_action"].get(item["action"], 0) + 1
    return summary
