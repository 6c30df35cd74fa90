# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""keyless.aws.organizations_guardrail's run: validate -> observe the organization -> preflight the targets that
would get the guardrail -> gate (staged, in the order of targets) -> plan -> apply -> report. Private to the
collection: no stable API.

    validate(params) -> [error]     guardrail.validate, the cloudtrail window, and the documents' quotas and judgement
    converge(module, progress) -> result dict (run_module's work); raises TaskFailure when the staged attach stopped
        at a target whose preflight is not clean (after attaching the targets before it), with the preflight
    info(org, params, described) -> result dict of state=info: per account under the targets (or every account with
        all_accounts), the guardrail rules in force and missing (in_force.account_entry); reads only

The preflight runs for the targets that are not attached yet (all of them when a policy's content changes: an
update applies to every target at once, so then every listed target must be clean, or nothing changes), or for
every target with preflight_only. A rerun that finds everything in place reads no member account.
"""

from __future__ import annotations

from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import InputError, PlanError, TaskFailure
from ansible_collections.keyless.aws.plugins.module_utils.aws.module import context
from ansible_collections.keyless.aws.plugins.module_utils.aws.parallel import parallel_map
from ansible_collections.keyless.aws.plugins.module_utils.aws.plan import Plan, apply_plan, diff
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import call
from ansible_collections.keyless.aws.plugins.module_utils.organizations import guardrail, in_force, organization, preflight

ORGANIZATIONS_REGION = "us-east-1"
PREFLIGHT_WORKERS = 8


def validate(params):
    errors = guardrail.validate(params)
    days = params.get("cloudtrail_days")
    if days is not None and not 1 <= days <= 90:
        errors.append("cloudtrail_days=%r: 1 to 90 (LookupEvents holds the last 90 days)" % (days,))
    if not errors and params.get("state") == "present":
        errors.extend(guardrail.check_documents(guardrail.desired_policies(params)))
    return errors


def _preflight(ctx, org, targets, params, management):
    """One report per target; each account is read once (an account under two targets too), PREFLIGHT_WORKERS
    accounts at a time (each through its own member role: per-account rate limits do not add up)."""
    settings = dict(params)
    under = {target: organization.accounts_under(org, target) for target in targets}
    unique = {}
    for accounts in under.values():
        for account in accounts:
            unique.setdefault(account["Id"], account)
    ids = sorted(unique)
    done = dict(zip(ids, parallel_map(lambda aid: preflight.account_report(ctx, unique[aid], settings, management),
                                      ids, PREFLIGHT_WORKERS)))
    return [preflight.target_report(target, [done[a["Id"]] for a in under[target]]) for target in targets]


def _under(nodes, node_id, target):
    return any(node["id"] == target for node in organization.path(nodes, node_id))


def info(org, params, described):
    """state=info: the guardrails in force for every account under the targets (reads only)."""
    management = described.get("MasterAccountId")
    root = organization.root(org)
    enabled = organization.enabled_types(root) & {guardrail.SCP, guardrail.DECLARATIVE}
    nodes, accounts = organization.tree(org, root.get("Id"))
    targets = list(params.get("targets") or [])
    unknown = [t for t in targets if t not in nodes]
    if unknown:
        raise InputError(["targets has %s: no such OU or account in this organization (root %s)" % (t, root.get("Id"))
                          for t in unknown])
    selected = sorted(accounts) if params.get("all_accounts") else \
        sorted(a for a in accounts if any(_under(nodes, a, t) for t in targets))
    attached = organization.attached_policies(org, enabled)
    entries = []
    for aid in selected:
        account = accounts[aid]
        effective = None
        if guardrail.DECLARATIVE in enabled and organization.active(account):
            effective = organization.effective_declarative(org, aid)
        entry = in_force.account_entry(account, organization.path(nodes, aid), attached, effective, params, management,
                                       enabled)
        if not organization.active(account):
            entry["notes"].append("account is %s" % organization.state_of(account))
        entries.append(entry)
    missing = {}
    for entry in entries:
        for rule in entry["missing"]:
            missing[rule] = missing.get(rule, 0) + 1
    return {"changed": False, "accounts": entries, "expected": in_force.expected_rules(params),
            "enabled_policy_types": sorted(enabled), "management_account": management,
            "summary": {"accounts": len(entries), "complete": sum(1 for e in entries if not e["missing"]),
                        "missing": missing},
            "changes": []}


def converge(module, progress):
    params = module.params
    ctx = context(module, validate(params), default_region=ORGANIZATIONS_REGION)
    org = ctx.client("organizations")
    described = call(org, "DescribeOrganization", resource="the organization")["Organization"]
    if params["state"] == "info":
        return info(org, params, described)
    management = described.get("MasterAccountId")
    partition = (described.get("Arn") or "arn:aws:").split(":")[1]
    state = params["state"]
    targets = list(params.get("targets") or [])
    desired = guardrail.desired_policies(params, partition)
    root = organization.root(org)
    if state == "present":
        missing = [p["type"] for p in desired if p["type"] not in organization.enabled_types(root)]
        if missing:
            raise PlanError("the policy type %s is not enabled in this organization: enable it on the root %s "
                            "(organizations:EnablePolicyType, once, by the organization's administrators); this module "
                            "never acts on the root by itself" % (", ".join(missing), root.get("Id")))
        errors = [e for e in (organization.check_target(org, t, root.get("Id")) for t in targets) if e]
        if errors:
            raise InputError(errors)
    names = {guardrail.policy_name(params, t): t for t in (guardrail.SCP, guardrail.DECLARATIVE)}
    found = organization.owned_policies(org, names, params)
    foreign = sorted(n for n, p in found.items() if not p["owned"])
    if foreign and state == "present":
        raise PlanError("policies %s exist and are not tagged %s=%s %s=%s: they are not this module's; choose another "
                        "name" % (", ".join(foreign), guardrail.MANAGED_BY_KEY, guardrail.MANAGED_BY_VALUE,
                                  guardrail.GUARDRAIL_KEY, params["name"]))
    observed = {n: p for n, p in found.items() if p["owned"]}
    before = guardrail.view(observed)

    content_changes = []
    reports, gated = [], {"attach": [], "stopped_at": None, "reason": None, "blocking": []}
    if state == "present":
        content_changes = [p["name"] for p in desired if p["name"] in observed and not guardrail.same_content(
            p["type"], observed[p["name"]]["content"], p["content"])]
        attached = {t for t in targets
                    if all(p["name"] in observed and t in observed[p["name"]]["targets"] for p in desired)}
        if content_changes:
            attached = set()
        to_check = targets if params.get("preflight_only") else [t for t in targets if t not in attached]
        reports = _preflight(ctx, org, to_check, params, management)
        gated = guardrail.gate(targets, attached, {r["target"]: r for r in reports}, params.get("accept_breaking"))
        if params.get("preflight_only"):
            return {"changed": False, "policies": before, "preflight": reports,
                    "preflight_markdown": preflight.markdown(reports), "stopped_at": gated["stopped_at"],
                    "reason": gated["reason"], "changes": [], "diff": diff(before, before)}
    if state == "present" and gated["stopped_at"] and (content_changes or not gated["attach"]):
        # an update applies to every attached target at once (every listed one must be clean first); and with nothing
        # to attach, nothing is created
        plan = Plan()
    else:
        plan = guardrail.plan_guardrail(desired, observed, gated["attach"], state, keep_targets=targets)
    after = guardrail.predicted(desired, observed, plan, state) if plan.changed else before
    if plan.changed and not module.check_mode:
        apply_plan(lambda service, region=None: ctx.client(service), plan, progress)
        after = guardrail.view({n: p for n, p in organization.owned_policies(org, names, params).items() if p["owned"]})
    result = {"changed": plan.changed, "policies": after, "preflight": reports,
              "preflight_markdown": preflight.markdown(reports), "stopped_at": gated["stopped_at"],
              "reason": gated["reason"], "blocking": gated["blocking"], "changes": plan.as_list(),
              "diff": diff(before, after)}
    if gated["stopped_at"]:
        done = ", ".join(gated["attach"]) or "none"
        raise TaskFailure("the guardrail was not attached to %s and the targets after it: %s (attached now: %s). "
                          "Converge what the preflight names (see preflight), or list the findings that may break in "
                          "accept_breaking" % (gated["stopped_at"], gated["reason"], done), result)
    return result
