#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: eks_nodegroup_identity
short_description: Make EKS managed node groups launch their nodes with IMDSv2, through EKS
version_added: 0.1.0
description:
  - For the managed node groups of the EKS clusters given, checks that the launch template version each node
    group launches from carries the instance metadata options given (O(http_tokens),
    O(http_put_response_hop_limit)). Only the options given are compared and changed.
  - A node group on a B(custom) launch template that does not carry them gets a new version of that template,
    made from the version the node group uses with only C(MetadataOptions) changed, and then
    C(UpdateNodegroupVersion) moves the node group to it. EKS then replaces the nodes itself (draining them,
    honouring pod disruption budgets). The module does not wait for the rollout; the result has its update id.
  - Never changes a node, and never edits the template EKS generated. A node group without a custom launch
    template is reported V(held) with the change to make; EKS cannot move an existing node group to a launch
    template, so that change is a new node group with a custom template.
  - The node's role belongs to the node group (its C(nodeRole)), and EKS refuses a node group template that
    carries C(IamInstanceProfile); this module never sets one. A template that carries one is reported V(held).
  - Idempotent. A template version that already carries exactly the change (left by an earlier run whose
    C(UpdateNodegroupVersion) did not happen) is reused instead of creating another one.
  - A node group being created or updated (status C(CREATING) or C(UPDATING), or C(UpdateNodegroupVersion)
    answering C(ResourceInUseException)) is reported V(held); rerun when it is C(ACTIVE). One node group's
    failure does not stop the others; the task fails at the end, naming them.
author: keyless.aws maintainers (@keyless-aws)
options:
  clusters:
    description:
      - The EKS clusters whose managed node groups are checked. Every cluster must exist in the region.
    type: list
    elements: str
    required: true
  nodegroups:
    description:
      - Only these node groups (by name, in any of O(clusters)); every name must exist in at least one cluster.
      - Default is every managed node group of each cluster.
    type: list
    elements: str
  http_tokens:
    description:
      - V(required) enforces IMDSv2 (session tokens) for the nodes.
    type: str
    choices: [optional, required]
  http_put_response_hop_limit:
    description:
      - The hop limit of IMDS token responses, 1 to 64.
      - Pods reach the metadata service through one more hop than the node, so with IMDSv2 required a hop limit
        of 1 cuts them off it. A change that would leave IMDSv2 required below 2 hops (including a template that
        sets no hop limit, whose nodes get EC2's default of 1) is refused unless O(allow_hop_limit_1=true).
    type: int
  allow_hop_limit_1:
    description:
      - Allow IMDSv2 required with a hop limit of 1.
      - EKS's best practices use 1 on purpose to keep pods away from the node's role (and its permissions); the
        pods then need their own credentials through IAM roles for service accounts (IRSA) or EKS Pod Identity,
        and a pod that still reads IMDS (an older VPC CNI or load balancer controller set up without a region)
        breaks. Set this only when that is so.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Makes no change and returns the predicted template version numbers.
  diff_mode:
    support: full
    description: Shows, per changed node group, the declared metadata options of its template version before and after.
notes:
  - "IAM permissions: C(eks:ListNodegroups), C(eks:DescribeNodegroup), C(eks:UpdateNodegroupVersion),
    C(ec2:DescribeLaunchTemplateVersions), C(ec2:CreateLaunchTemplateVersion)."
extends_documentation_fragment:
  - keyless.aws.aws
"""

EXAMPLES = r"""
- name: The nodes of every node group of two clusters require IMDSv2 (hop limit 2, so pods keep working)
  keyless.aws.eks_nodegroup_identity:
    clusters: [prod, staging]
    http_tokens: required
    http_put_response_hop_limit: 2
  register: nodegroups

- name: Node groups still to change by hand (EKS-generated templates, updates in progress)
  ansible.builtin.debug:
    msg: "{{ nodegroups.nodegroups | selectattr('status', 'eq', 'held') | map(attribute='reason') | list }}"

- name: One node group whose pods use EKS Pod Identity keeps them away from the node role
  keyless.aws.eks_nodegroup_identity:
    clusters: [prod]
    nodegroups: [payments]
    http_tokens: required
    http_put_response_hop_limit: 1
    allow_hop_limit_1: true
"""

RETURN = r"""
nodegroups:
  description: One entry per selected managed node group, by cluster then name.
  returned: always
  type: list
  elements: dict
  contains:
    cluster:
      description: The EKS cluster.
      type: str
      sample: prod
    name:
      description: The node group.
      type: str
      sample: workers
    nodegroup_status:
      description: The node group's status when it was read (C(ACTIVE), C(UPDATING), ...).
      type: str
      sample: ACTIVE
    launch_template_before:
      description: The launch template the node group used, C({id, name, version}) (version as EKS reports it),
        or null for the template EKS generated.
      type: dict
      sample: {"id": "lt-0123456789abcdef0", "name": "workers", "version": "3"}
    launch_template_after:
      description: The launch template the node group moves to (predicted in check mode).
      type: dict
      sample: {"id": "lt-0123456789abcdef0", "name": "workers", "version": "4"}
    action:
      description: V(none), V(create_version) (a new version, then C(UpdateNodegroupVersion)), V(update_nodegroup)
        (reuse a version that carries the change), V(hold) or V(skip).
      type: str
      sample: create_version
    status:
      description: V(unchanged), V(changed) (in check mode, would change), V(held) (left for a reason that says
        what to do), V(skipped) (being deleted, or failed to create) or V(failed).
      type: str
      sample: changed
    reason:
      description: Why the action was chosen, what to do for a held node group, or why it failed.
      type: str
      sample: version 4 from version 3 with the metadata options, then the node group moves to it (EKS replaces the nodes)
    update_id:
      description: The id of the EKS update that replaces the nodes (C(DescribeUpdate)), or null.
      type: str
      sample: 0ee12f5e-0d6b-3d55-9b1b-0a8f2f0e2a7c
    version_created:
      description: The launch template version created (predicted in check mode), or null.
      type: int
      sample: 4
    changed_fields:
      description: The launch template data fields the new version changes.
      type: list
      elements: str
      sample: ["MetadataOptions.HttpTokens"]
    before:
      description: The declared metadata options of the version the node group used.
      type: dict
      sample: {"metadata_options": {"http_tokens": "optional", "http_put_response_hop_limit": 2}}
    after:
      description: The declared metadata options of the version the node group moves to.
      type: dict
      sample: {"metadata_options": {"http_tokens": "required", "http_put_response_hop_limit": 2}}
summary:
  description: Counts of the node groups by status and by action.
  returned: always
  type: dict
  sample: {"total": 3, "changed": 1, "unchanged": 1, "held": 1, "skipped": 0, "failed": 0,
           "by_action": {"create_version": 1, "none": 1, "hold": 1}}
failed_nodegroups:
  description: The node groups whose calls failed, with the reason; the task fails when there are any.
  returned: always
  type: list
  elements: dict
  sample: []
"""

from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import TaskFailure
from ansible_collections.keyless.aws.plugins.module_utils.aws.module import aws_module, context, run_module
from ansible_collections.keyless.aws.plugins.module_utils.aws.plan import diff
from ansible_collections.keyless.aws.plugins.module_utils.ec2account.managed_sources import (
    NODEGROUP_STATUS,
    apply_nodegroups,
    failure_text,
    number_versions,
    plan_nodegroup,
    resolve_versions,
    select_nodegroups,
    summarize_nodegroups,
    template_ref,
    validate_nodegroup_params,
)
from ansible_collections.keyless.aws.plugins.module_utils.fleet.metadata import desired_fields

PUBLIC_KEYS = ("cluster", "name", "nodegroup_status", "launch_template_before", "launch_template_after", "action",
               "status", "reason", "update_id", "version_created", "changed_fields", "before", "after")


def argument_spec():
    return dict(
        clusters=dict(type="list", elements="str", required=True),
        nodegroups=dict(type="list", elements="str"),
        http_tokens=dict(type="str", choices=["optional", "required"]),
        http_put_response_hop_limit=dict(type="int"),
        allow_hop_limit_1=dict(type="bool", default=False),
    )


def converge(module, progress):
    params = module.params
    ctx = context(module, validate_nodegroup_params(params), require_region=True)
    eks, ec2 = ctx.client("eks"), ctx.client("ec2")
    desired = {"metadata": desired_fields({k: params.get(k) for k in ("http_tokens", "http_put_response_hop_limit")})}
    nodegroups = select_nodegroups(eks, params["clusters"], params.get("nodegroups"))
    refs = [template_ref(n["launchTemplate"]) for n in nodegroups if n.get("launchTemplate")]
    resolved = resolve_versions(ec2, refs, latest=True)
    shape = ec2.meta.service_model.shape_for("RequestLaunchTemplateData")
    items = number_versions([plan_nodegroup(n, resolved, desired, params["allow_hop_limit_1"], shape)
                             for n in nodegroups])
    for item in items:
        item["status"] = NODEGROUP_STATUS[item["action"]]
    failed = [] if module.check_mode else apply_nodegroups(ctx.client, items, progress)
    changed = [i for i in items if i["status"] == "changed"]
    result = dict(
        changed=bool(changed) or progress.changed,
        nodegroups=[{k: i.get(k) for k in PUBLIC_KEYS} for i in items],
        summary=summarize_nodegroups(items),
        failed_nodegroups=[{"cluster": f["cluster"], "name": f["name"], "reason": f["reason"]} for f in failed],
        diff=diff({"nodegroups": {"%s/%s" % (i["cluster"], i["name"]): i["before"] for i in changed}},
                  {"nodegroups": {"%s/%s" % (i["cluster"], i["name"]): i["after"] for i in changed}}),
    )
    for item in items:
        if item["status"] == "held":
            module.warn("EKS node group %s/%s held: %s" % (item["cluster"], item["name"], item["reason"]))
    if failed:
        raise TaskFailure(failure_text(failed), result)
    return result


def main():
    module = aws_module(argument_spec())
    run_module(module, lambda progress: converge(module, progress))


if __name__ == "__main__":
    main()
