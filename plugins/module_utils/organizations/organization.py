# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reads of the organization (Organizations API, with the management account's credentials). Reads only.
Private to the collection: no stable API.

    root(org) -> {"Id", "PolicyTypes": [...]}                 ListRoots (an organization has one root)
    enabled_types(root) -> {policy type}                      the types whose Status is ENABLED on the root
    check_target(org, target, root_id) -> error or None       DescribeOrganizationalUnit / DescribeAccount; the root by id
    accounts_under(org, target) -> [Account]                  an account target itself (DescribeAccount), or every
        account under an OU or the root, recursively (ListAccountsForParent, ListOrganizationalUnitsForParent)
    active(account) -> bool                                   ACTIVE by Status and State, each when AWS returns it
    owned_policies(org, names, params) -> {name: {"id", "type", "content", "targets", "owned", "tags"}}
        ListPolicies per type (the policies with our names), ListTagsForResource, DescribePolicy (the content),
        ListTargetsForPolicy (the attachments, as target ids)
    tree(org, root_id) -> ({node id: {"id", "kind", "name", "parent"}}, {account id: Account})
        the whole OU tree from the root (ListOrganizationalUnitsForParent, ListAccountsForParent): the path of
        every account to the root, which is what the policies in force for it are attached to
    path(nodes, node_id) -> [node]                            (pure) root first, the node last
    attached_policies(org, types) -> {target id: [{"id", "name", "type", "content", "ours", "guardrail"}]}
        every policy of the types (ListPolicies, DescribePolicy, ListTargetsForPolicy, and ListTagsForResource of
        the customer-managed ones: ours are tagged keyless:managed-by=keyless.aws)
    effective_declarative(org, account_id) -> content or None  DescribeEffectivePolicy DECLARATIVE_POLICY_EC2

AWS facts (Organizations API reference):
- An account's Status is ACTIVE, SUSPENDED or PENDING_CLOSURE; the newer State (PENDING_ACTIVATION, ACTIVE,
  SUSPENDED, PENDING_CLOSURE, CLOSED) replaces it, so either may be absent. A suspended account runs nothing new.
- DescribeOrganizationalUnit of an unknown OU answers OrganizationalUnitNotFoundException, DescribeAccount of an
  unknown account AccountNotFoundException.
- DescribeEffectivePolicy (management policy types only, not SCPs) answers EffectivePolicyNotFoundException when no
  policy of the type applies to the account; its TargetId is an account (not an OU or the root).
- ListPolicies takes Filter (the policy type) and is paginated; DescribePolicy returns Policy.Content as text;
  ListTargetsForPolicy returns Targets[].TargetId; ListTagsForResource takes the policy id as ResourceId.
"""

from __future__ import annotations

import json

from ansible_collections.keyless.aws.plugins.module_utils.aws import rules
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import call, paginate
from ansible_collections.keyless.aws.plugins.module_utils.organizations import guardrail

NOT_FOUND = ("OrganizationalUnitNotFoundException", "AccountNotFoundException", "TargetNotFoundException",
             "ParentNotFoundException")


def root(org):
    roots = paginate(org, "ListRoots", "Roots", resource="the organization")
    return roots[0] if roots else {"Id": None, "PolicyTypes": []}


def enabled_types(root_entry):
    return {t["Type"] for t in root_entry.get("PolicyTypes") or () if t.get("Status") == "ENABLED"}


def check_target(org, target, root_id):
    """None when the target exists in this organization, else the error naming it."""
    if rules.ROOT_ID.match(target):
        return None if target == root_id else "targets has %s: not the root of this organization (%s)" % (target, root_id)
    if rules.OU_ID.match(target):
        found = call(org, "DescribeOrganizationalUnit", {"OrganizationalUnitId": target}, resource=target,
                     missing=NOT_FOUND)
        return None if found else "targets has %s: no such OU in this organization" % target
    found = call(org, "DescribeAccount", {"AccountId": target}, resource=target, missing=NOT_FOUND)
    return None if found else "targets has %s: no such account in this organization" % target


def active(account):
    states = [account[key] for key in ("Status", "State") if account.get(key)]
    return bool(states) and all(state == "ACTIVE" for state in states)


def state_of(account):
    return account.get("State") or account.get("Status") or "unknown"


def accounts_under(org, target):
    """The accounts a guardrail on `target` applies to, sorted by id."""
    if rules.is_account_id(target):
        return [call(org, "DescribeAccount", {"AccountId": target}, resource=target)["Account"]]
    found, parents = {}, [target]
    while parents:
        parent = parents.pop()
        for account in paginate(org, "ListAccountsForParent", "Accounts", {"ParentId": parent}, resource=parent):
            found[account["Id"]] = account
        for unit in paginate(org, "ListOrganizationalUnitsForParent", "OrganizationalUnits", {"ParentId": parent},
                             resource=parent):
            parents.append(unit["Id"])
    return [found[k] for k in sorted(found)]


def _content(text):
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def owned_policies(org, names, params):
    """The policies named as ours (by type), whether or not they carry our tags: a policy with our name that is not
    tagged ours is reported with owned=False (the module refuses to touch it)."""
    out = {}
    for policy_type in sorted(set(names.values())):
        wanted = {n for n, t in names.items() if t == policy_type}
        for summary in paginate(org, "ListPolicies", "Policies", {"Filter": policy_type}, resource=policy_type):
            if summary.get("Name") not in wanted or summary.get("AwsManaged"):
                continue
            pid = summary["Id"]
            listed = paginate(org, "ListTagsForResource", "Tags", {"ResourceId": pid}, resource=pid)
            tags = {t["Key"]: t["Value"] for t in listed}
            policy = call(org, "DescribePolicy", {"PolicyId": pid}, resource=pid)["Policy"]
            targets = paginate(org, "ListTargetsForPolicy", "Targets", {"PolicyId": pid}, resource=pid)
            out[summary["Name"]] = {"id": pid, "arn": summary.get("Arn"), "type": policy_type,
                                    "content": _content(policy.get("Content")),
                                    "targets": sorted(t["TargetId"] for t in targets), "tags": tags,
                                    "owned": guardrail.is_owned(tags, params)}
    return out


def tree(org, root_id):
    """Every OU and account under the root, each with its parent; read from the root down (one pair of list calls
    per OU, never one call per account)."""
    nodes = {root_id: {"id": root_id, "kind": "root", "name": "Root", "parent": None}}
    accounts, parents = {}, [root_id]
    while parents:
        parent = parents.pop()
        for account in paginate(org, "ListAccountsForParent", "Accounts", {"ParentId": parent}, resource=parent):
            accounts[account["Id"]] = account
            nodes[account["Id"]] = {"id": account["Id"], "kind": "account", "name": account.get("Name"),
                                    "parent": parent}
        for unit in paginate(org, "ListOrganizationalUnitsForParent", "OrganizationalUnits", {"ParentId": parent},
                             resource=parent):
            nodes[unit["Id"]] = {"id": unit["Id"], "kind": "ou", "name": unit.get("Name"), "parent": parent}
            parents.append(unit["Id"])
    return nodes, accounts


def path(nodes, node_id):
    """[root, OU, ..., node]: what the node inherits policies from, root first (empty for an unknown node)."""
    chain, seen = [], set()
    node = nodes.get(node_id)
    while node is not None and node["id"] not in seen:
        seen.add(node["id"])
        chain.append(node)
        node = nodes.get(node["parent"]) if node["parent"] else None
    return list(reversed(chain))


def attached_policies(org, types):
    """{target id: [policy]} for every policy of `types` attached anywhere in the organization."""
    out = {}
    for policy_type in sorted(types):
        for summary in paginate(org, "ListPolicies", "Policies", {"Filter": policy_type}, resource=policy_type):
            pid = summary["Id"]
            tags = {}
            if not summary.get("AwsManaged"):
                tags = {t["Key"]: t["Value"] for t in paginate(org, "ListTagsForResource", "Tags", {"ResourceId": pid},
                                                               resource=pid)}
            targets = paginate(org, "ListTargetsForPolicy", "Targets", {"PolicyId": pid}, resource=pid)
            if not targets:
                continue
            policy = call(org, "DescribePolicy", {"PolicyId": pid}, resource=pid)["Policy"]
            entry = {"id": pid, "name": summary.get("Name"), "type": policy_type,
                     "content": _content(policy.get("Content")),
                     "ours": tags.get(guardrail.MANAGED_BY_KEY) == guardrail.MANAGED_BY_VALUE,
                     "guardrail": tags.get(guardrail.GUARDRAIL_KEY)}
            for target in targets:
                out.setdefault(target["TargetId"], []).append(entry)
    return out


def effective_declarative(org, account_id):
    answer = call(org, "DescribeEffectivePolicy", {"PolicyType": guardrail.DECLARATIVE, "TargetId": account_id},
                  resource=account_id, missing=("EffectivePolicyNotFoundException",))
    return _content(answer["EffectivePolicy"].get("PolicyContent")) if answer else None
