# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight of a guardrail: per account and region under a target, what it would refuse or break. Reads
only, through the member role of each account. Private to the collection: no stable API.

    judge_launch_data(data, cap, require_profile) -> [reason]       (pure) one launch template version's
        LaunchTemplateData (or a launch configuration, same MetadataOptions shape) against the guardrail
    finding(account, region, kind, name, reasons, **extra) -> dict   (pure) id "<account>:<region>:<kind>:<name>"
    judge_region(account, region, observed, settings) -> [finding]  (pure) observed: what read_region returned
    read_region(clients, settings) -> observed                       the reads of one account and region
    account_report(ctx, account, settings, regions_of) -> {"account", "name", "state", "regions", "findings",
        "errors", "skipped"}
    target_report(accounts, reports) -> {"clean", "accounts": [...], "summary"}
    markdown(preflight) -> str                                       (pure) the report as Markdown

Kinds of findings (what the guardrail refuses or breaks, and what converges it):
    launch_template        a template whose $Default or $Latest version launches without HttpTokens=required, with a
                           hop limit above the cap, or (require_instance_profile) without a profile: RunInstances
                           from it is refused (keyless.aws.ec2_launch_template_identity)
    autoscaling_group      a group whose launch sources (the template versions it names: own, mixed instances
                           policy, overrides; or its launch configuration) would be refused: its scale-outs fail
                           (keyless.aws.autoscaling_group_identity)
    eks / spot_fleet / ec2_fleet   a launch source of running instances (ec2account.launch_source_audit) that is
                           not IMDSv2-required
    instance               an instance that is not IMDSv2-required and made IMDSv1 calls (fleet.imdsv1_usage,
                           signal "calls") in the window: with deny_imdsv1_credentials its role credentials (delivered
                           through IMDSv1) are refused on every call
    modify_caller          (check_cloudtrail) a principal not in exempt_principal_arns that called
                           ModifyInstanceMetadataOptions in the window (activity.cloudtrail): its calls that do not
                           keep IMDSv2 required and the hop limit within the cap are refused

Reused, not read again: autoscaling.observe (the groups, their launch configurations and every template version they
name with the templates' $Default and $Latest), managed_sources.resolve_versions (the $Default and $Latest of the
templates no group names), launch_source_audit.observe (EKS node groups, Spot Fleets and EC2 Fleets of the
instances), selection.describe_instances, imdsv1_usage.imdsv1_evidence, cloudtrail.lookup_events.

AWS facts: SCPs do not apply to the management account (Organizations User Guide, "Service control policies":
"SCPs don't affect users or roles in the management account"), so it is reported as skipped. DescribeRegions without
AllRegions lists the regions enabled for the account. A launch template version or launch configuration that does
not set HttpTokens launches without ec2:MetadataHttpTokens in the request, which StringNotEquals refuses.
"""

from __future__ import annotations

import fnmatch

from ansible_collections.keyless.aws.plugins.module_utils.activity import cloudtrail
from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import iam_arn
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import call, paginate
from ansible_collections.keyless.aws.plugins.module_utils.ec2account import autoscaling, launch_source_audit
from ansible_collections.keyless.aws.plugins.module_utils.ec2account.managed_sources import resolve_versions
from ansible_collections.keyless.aws.plugins.module_utils.fleet.imdsv1_usage import default_min_days, imdsv1_evidence
from ansible_collections.keyless.aws.plugins.module_utils.fleet.selection import describe_instances
from ansible_collections.keyless.aws.plugins.module_utils.organizations.organization import active, state_of

LIVE_STATES = ["pending", "running", "stopping", "stopped"]
AUDITED_OWNERS = ("eks", "spot_fleet", "ec2_fleet")
CONVERGE = {
    "launch_template": "keyless.aws.ec2_launch_template_identity (a compliant default version)",
    "autoscaling_group": launch_source_audit.CONVERGE["autoscaling"],
    "instance": "keyless.aws.ec2_instance_identity after the software on it uses IMDSv2 (see its IMDSv1 evidence)",
    "modify_caller": "add it to exempt_principal_arns, or make it keep HttpTokens=required within the hop cap",
}


# ---------------------------------------------------------------- pure

def judge_launch_data(data, cap, require_profile=False, require_imdsv2=True):
    options = (data or {}).get("MetadataOptions") or {}
    reasons = []
    tokens = options.get("HttpTokens")
    if require_imdsv2 and tokens != "required":
        reasons.append("HttpTokens %s (the guardrail refuses a launch that does not require IMDSv2)"
                       % (tokens or "not set"))
    hop = options.get("HttpPutResponseHopLimit")
    if hop is not None and int(hop) > cap:
        reasons.append("HttpPutResponseHopLimit %s is above the cap %d" % (hop, cap))
    if require_profile and not (data or {}).get("IamInstanceProfile"):
        reasons.append("no instance profile (the guardrail refuses a launch without one)")
    return reasons


def finding(account, region, kind, name, reasons, **extra):
    out = {"id": "%s:%s:%s:%s" % (account, region, kind, name), "account": account, "region": region, "kind": kind,
           "name": name, "reasons": list(reasons), "converge": CONVERGE.get(kind)}
    out.update(extra)
    return out


def _version_label(ref, item):
    return "%s version %s" % (ref, item["VersionNumber"]) if ref.startswith("$") else "version %s" % ref


def judge_region(account, region, observed, settings):
    """Every finding of one account and region (pure); observed: read_region()'s answer."""
    cap, profile = settings["hop_limit_cap"], settings.get("require_instance_profile", False)
    imdsv2 = settings.get("require_imdsv2", True)
    out = []
    used_by = {}
    for group in observed["groups"]:
        reasons = []
        for source in autoscaling.launch_sources(group):
            if "launch_configuration" in source:
                lc = observed["launch_configurations"].get(source["launch_configuration"]) or {}
                bad = judge_launch_data(lc, cap, profile, imdsv2)
                reasons.extend("launch configuration %s: %s" % (source["launch_configuration"], r) for r in bad)
                continue
            template_id = source["template_id"] or observed["template_ids"].get(source["template_name"])
            entry = observed["templates"].get(template_id)
            if entry is None:
                continue
            used_by.setdefault(template_id, []).append(group["AutoScalingGroupName"])
            item = _named_version(entry, source["ref"])
            if item is None:
                continue
            for reason in judge_launch_data(item.get("LaunchTemplateData"), cap, profile, imdsv2):
                reasons.append("launches %s (%s) %s: %s" % (template_id, entry["template"]["LaunchTemplateName"],
                                                            _version_label(source["ref"], item), reason))
        if reasons:
            out.append(finding(account, region, "autoscaling_group", group["AutoScalingGroupName"], reasons))
    for template_id in sorted(observed["templates"]):
        entry = observed["templates"][template_id]
        reasons, refs = [], {}
        for ref in ("$Default", "$Latest"):
            item = _named_version(entry, ref)
            if item is not None:
                refs.setdefault(item["VersionNumber"], (item, []))[1].append(ref)
        for number in sorted(refs):
            item, names = refs[number]
            reasons.extend("%s version %s: %s" % ("/".join(names), number, r)
                           for r in judge_launch_data(item.get("LaunchTemplateData"), cap, profile, imdsv2))
        if reasons:
            out.append(finding(account, region, "launch_template", template_id, reasons,
                               template_name=entry["template"]["LaunchTemplateName"],
                               used_by=sorted(set(used_by.get(template_id, [])))))
    for record in observed["owned_sources"]:
        if record.get("compliant") is False:
            out.append(finding(account, region, record["kind"], record["name"],
                               ["launch source not compliant: %s" % ", ".join(record["findings"])],
                               converge=record.get("converge")))
    if settings.get("deny_imdsv1_credentials"):
        for iid in sorted(observed["imdsv1"]):
            evidence = observed["imdsv1"][iid]
            if evidence.get("signal") == "calls":
                out.append(finding(account, region, "instance", iid,
                                   ["IMDSv1 role credentials would be refused: %s" % evidence.get("reason")]))
            elif evidence.get("signal") in ("no_data", "unknown"):
                # as the rollout holds them: no evidence is no pass (accept_breaking names it to go on)
                out.append(finding(account, region, "instance", iid,
                                   ["IMDSv1 role credentials might be refused, %s" % evidence.get("reason")]))
    exempt = settings.get("exempt_principal_arns") or []
    for principal in sorted(observed["modify_callers"] if settings.get("deny_weakening", True) else ()):
        if not any(_arn_like(principal, pattern) for pattern in exempt):
            out.append(finding(account, region, "modify_caller", principal,
                               ["called ModifyInstanceMetadataOptions %d time(s) in the window"
                                % observed["modify_callers"][principal]]))
    return out


def _named_version(entry, ref):
    template = entry["template"]
    number = template["DefaultVersionNumber"] if ref == "$Default" else \
        template["LatestVersionNumber"] if ref == "$Latest" else int(ref)
    return entry["versions"].get(number)


def _arn_like(value, pattern):
    """ArnLike: * and ? within each of the six colon-separated parts (IAM User Guide, ARN condition operators)."""
    parts, wanted = value.split(":", 5), pattern.split(":", 5)
    return len(parts) == len(wanted) and all(fnmatch.fnmatchcase(p, w) for p, w in zip(parts, wanted))


def target_report(target, accounts):
    findings = [f for a in accounts for f in a["findings"]]
    errors = [e for a in accounts for e in a["errors"]]
    by_kind = {}
    for f in findings:
        by_kind[f["kind"]] = by_kind.get(f["kind"], 0) + 1
    return {"target": target, "clean": not findings and not errors, "accounts": accounts,
            "summary": {"accounts": len(accounts), "skipped": sum(1 for a in accounts if a["skipped"]),
                        "findings": len(findings), "errors": len(errors), "by_kind": by_kind}}


def markdown(preflight):
    """The preflight as Markdown: one section per target, a table of findings."""
    lines = ["# Guardrail preflight", ""]
    for report in preflight:
        lines.append("## %s: %s" % (report["target"], "clean" if report["clean"] else "NOT clean"))
        lines.append("")
        lines.append("| account | region | kind | name | why |")
        lines.append("|---|---|---|---|---|")
        for account in report["accounts"]:
            if account["skipped"]:
                lines.append("| %s | | skipped | | %s |" % (account["account"], account["skipped"]))
            for error in account["errors"]:
                lines.append("| %s | | error | | %s |" % (account["account"], error.replace("|", "\\|")))
            for f in account["findings"]:
                why = "; ".join(f["reasons"]).replace("|", "\\|")
                lines.append("| %s | %s | %s | %s | %s |" % (f["account"], f["region"], f["kind"], f["name"], why))
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- reads

def read_region(clients, settings):
    """Everything judge_region() judges, for one account and region; clients(service) -> a client."""
    ec2, asg = clients("ec2"), clients("autoscaling")
    groups = autoscaling.observe(ec2, asg, {"all_groups": True, "missing_groups": "skip"})
    templates = dict(groups["templates"])
    summaries = paginate(ec2, "DescribeLaunchTemplates", "LaunchTemplates", resource="launch templates")
    others = [{"id": t["LaunchTemplateId"], "name": None, "version": "$Default"} for t in summaries
              if t["LaunchTemplateId"] not in templates]
    if others:
        # the same shape autoscaling.observe gives the templates its groups name (its one converter of this answer)
        templates.update(autoscaling.templates_by_id(resolve_versions(ec2, others, latest=True)))
    records, _calls = describe_instances(ec2, [{"Name": "instance-state-name", "Values": LIVE_STATES}])
    owned = {iid: r for iid, r in records.items() if r.get("owner") and r["owner"]["kind"] in AUDITED_OWNERS}
    expected = {"http_tokens": "required"} if settings.get("require_imdsv2", True) else {}
    owned_sources = launch_source_audit.observe(clients, owned, expected) if owned and expected else []
    optional = sorted(iid for iid, r in records.items() if (r.get("metadata") or {}).get("HttpTokens") != "required"
                      and r.get("state") != "pending")
    evidence = {}
    if optional and settings.get("deny_imdsv1_credentials"):
        days = settings.get("imdsv1_lookback_days") or 14
        evidence = imdsv1_evidence(clients("cloudwatch"), optional, days, default_min_days(days))
    callers = {}
    if settings.get("check_cloudtrail"):
        start, end = cloudtrail.window(settings.get("cloudtrail_days") or 90)
        collected = cloudtrail.Collected(None, start, end, None,
                                         match=lambda e: e.get("eventName") == "ModifyInstanceMetadataOptions")
        cloudtrail.lookup_events(clients("cloudtrail"), collected, cloudtrail.lookup_bucket())
        for event in collected.events:
            arns = cloudtrail.event_role_arns(event)
            if arns:
                callers[arns[0]] = callers.get(arns[0], 0) + 1
    return {"groups": groups["groups"], "launch_configurations": groups["launch_configurations"],
            "templates": templates, "template_ids": {e["template"]["LaunchTemplateName"]: i for i, e in templates.items()},
            "owned_sources": owned_sources, "imdsv1": evidence, "instances": len(records),
            "imdsv1_candidates": len(optional), "modify_callers": callers}


def member_role_arn(partition, account_id, role_name):
    return iam_arn(partition, account_id, "role", "/", role_name)


def _member_clients(ctx, role_arn, session, region):
    """clients(service) -> a client of the member role in `region`, one AssumeRole per service used."""
    cache = {}

    def clients(service):
        if service not in cache:
            cache[service] = ctx.client_as_role(service, role_arn, session, region=region)
        return cache[service]
    return clients


def account_report(ctx, account, settings, management_account):
    """The preflight of one account (every region), through its member role; an AssumeRole or read that fails is
    an error of the account (its target is not clean), never a silent pass."""
    aid = account["Id"]
    report = {"account": aid, "name": account.get("Name"), "state": state_of(account), "regions": [],
              "findings": [], "errors": [], "skipped": None}
    if not active(account):
        report["skipped"] = "account is %s" % state_of(account)
        return report
    if aid == management_account:
        report["skipped"] = "the management account: service control policies do not apply to it"
        return report
    role_arn = member_role_arn(ctx.partition, aid, settings["member_role_name"])
    session = "keyless-guardrail-preflight"
    try:
        regions = settings.get("regions") or sorted(
            r["RegionName"] for r in call(ctx.client_as_role("ec2", role_arn, session), "DescribeRegions",
                                          resource=aid)["Regions"])
        for region in regions:
            observed = read_region(_member_clients(ctx, role_arn, session, region), settings)
            report["regions"].append({"region": region, "instances": observed["instances"],
                                      "auto_scaling_groups": len(observed["groups"]),
                                      "launch_templates": len(observed["templates"]),
                                      "imdsv1_candidates": observed["imdsv1_candidates"]})
            report["findings"].extend(judge_region(aid, region, observed, settings))
    except AwsCallError as exc:
        report["errors"].append("%s (as %s)" % (exc.text(), role_arn))
    return report
