# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guardrail from intent, and its plan (pure: no I/O). Private to the collection: no stable API.

    validate(params) -> [error]                 every bad input, naming the option, the value and what is allowed
                                                (state=info, organizations_guardrail_info: targets or all_accounts, never the root)
    scp_document(params, partition="aws") -> dict        the service control policy built from the options
    declarative_document(params) -> dict                 the DECLARATIVE_POLICY_EC2 content
    desired_policies(params, partition) -> [{"name", "type", "content", "description", "tags"}]
    check_documents(desired) -> [error]         each document within AWS's size quota and, for the SCP, well formed
                                                (iam.documents.parse_policy) and accepted by iam.lint
    same_content(policy_type, a, b) -> bool     an SCP through iam.documents.policies_equal, a declarative policy as JSON
    gate(targets, attached, preflight, accept_breaking) -> {"attach": [...], "stopped_at", "reason", "blocking"}
    plan_guardrail(desired, observed, attach_targets, state) -> Plan   the Organizations calls, in order
    view(policies) -> the `diff` / `policies` shape: {name: {type, id, content, targets}}
    argument_spec(info=False) -> dict           organizations_guardrail's options (info=True: organizations_guardrail_info's)
    info_params(params) -> dict                 organizations_guardrail_info's params as the engine reads them (state=info)

AWS facts relied on (looked up with the collection's documentation search on 2026-12-07: the quota page, the declarative
policy syntax page, InstanceMetadataDefaultsResponse (ManagedBy declarative-policy) and the EC2 SCP examples were found
and read; the Service Authorization Reference pages for EC2 and Organizations were found, but their condition-key rows
were not in the excerpts, so the key types below are the ones AWS's own examples use them with):
- EC2 condition keys (Service Authorization Reference, "Actions, resources, and condition keys for Amazon EC2";
  EC2 User Guide, "Example policies to work with the instance metadata service"):
  ec2:MetadataHttpTokens (String: required | optional) and ec2:MetadataHttpPutResponseHopLimit (Numeric) on the
  instance resource of RunInstances and ModifyInstanceMetadataOptions; ec2:RoleDelivery (Numeric: the version of
  the instance metadata service that delivered the role credentials the request is signed with, 1.0 or 2.0);
  ec2:InstanceProfile (ARN) on the instance resource of RunInstances.
- The documented examples ("Example SCPs for Amazon EC2"; EC2 User Guide "Require the use of IMDSv2"): Deny
  ec2:RunInstances on arn:aws:ec2:*:*:instance/* with StringNotEquals {"ec2:MetadataHttpTokens": "required"};
  Deny ec2:RunInstances on arn:aws:ec2:*:*:instance/* with NumericGreaterThan
  {"ec2:MetadataHttpPutResponseHopLimit": "<n>"}; Deny "*" on "*" with NumericLessThan {"ec2:RoleDelivery": "2.0"}
  (every action: credentials an instance got through IMDSv1 are refused for every call); Deny
  ec2:ModifyInstanceMetadataOptions except to named principals (ArnNotLike / StringNotLike aws:PrincipalARN).
  A condition key missing from the request makes StringNotEquals true (the launch is refused when it does not say
  HttpTokens=required) and NumericGreaterThan false (a launch that does not set a hop limit is allowed).
  With require_instance_profile: Deny ec2:RunInstances on instance/* with Null {"ec2:InstanceProfile": "true"}.
- SCPs do not apply to the management account (Organizations User Guide, "Service control policies").
- Quotas (Organizations User Guide, "Quotas and service limits for AWS Organizations"): a service control policy
  holds at most 5,120 characters, a declarative policy 10,000; "if you save the policy using the AWS CLI or AWS SDKs,
  the policy is saved as you provided it, with no automatic removal of white space": so the size counted is the
  length of the exact text sent, which here is compact JSON (no whitespace outside strings).
- Declarative policies for EC2 (Organizations User Guide, "Declarative policy syntax and examples"): the content
  starts with "ec2_attributes"; instance_metadata_defaults holds http_tokens (no_preference | required |
  optional), http_put_response_hop_limit ("-1" for no preference, or 1-64), http_endpoint and
  instance_metadata_tags (no_preference | enabled | disabled), each as {"@@assign": value}; exception_message
  {"@@assign": text} is the custom error message. Accounts then report their IMDS defaults ManagedBy
  declarative-policy and cannot change them.
- A policy type must be enabled on the root before its policies can be attached (EnablePolicyType); this module
  never calls it (that acts on the root): it fails naming the call instead.
"""

from __future__ import annotations

import json

from ansible_collections.keyless.aws.plugins.module_utils.aws import rules
from ansible_collections.keyless.aws.plugins.module_utils.aws.plan import Plan
from ansible_collections.keyless.aws.plugins.module_utils.iam.documents import (
    PolicyError,
    parse_policy,
    policies_equal,
    policy_length,
)
from ansible_collections.keyless.aws.plugins.module_utils.iam.lint import lint_policy

SCP = "SERVICE_CONTROL_POLICY"
DECLARATIVE = "DECLARATIVE_POLICY_EC2"
TYPE_OPTIONS = {"service_control_policy": SCP, "declarative_policy_ec2": DECLARATIVE}
MAX_CHARS = {SCP: 5120, DECLARATIVE: 10000}
MANAGED_BY_KEY = "keyless:managed-by"
MANAGED_BY_VALUE = "keyless.aws"
GUARDRAIL_KEY = "keyless:guardrail"
DEFAULT_NAME = "keyless-imds-guardrail"
DECLARATIVE_SUFFIX = "-ec2-defaults"
# Organizations CreatePolicy Name: 1-128 characters, pattern [\s\S]*; we keep to what every console shows
INSTANCE_ARN = "arn:aws:ec2:*:*:instance/*"
PREFERENCES = ("no_preference", "enabled", "disabled")
HOP_MAX = 64


def _bad_bool(value):
    return value is not None and not isinstance(value, bool)


def validate(params):
    """Every bad input, before any AWS call (see the module docstring)."""
    errors = []
    name = params.get("name")
    if not rules.is_guardrail_name(name):
        errors.append("name=%r: 1 to 100 letters, digits and _ . + = , @ - (the policies are named after it)" % (name,))
    targets = params.get("targets") or []
    state = params.get("state", "present")
    if state == "present" and not targets:
        errors.append("targets is required with state=present: list the OU ids (ou-...) and account ids (12 digits) to "
                      "attach the guardrail to, in the order to attach them")
    all_accounts = params.get("all_accounts")
    if _bad_bool(all_accounts):
        errors.append("all_accounts=%r: true or false" % (all_accounts,))
    elif all_accounts and state != "info":
        errors.append("all_accounts=true is for organizations_guardrail_info (it reads every account of the "
                      "organization); with state=%s list the targets" % (state,))
    elif state == "info" and bool(all_accounts) == bool(targets):
        what = "targets=%r and all_accounts=true" % (targets,) if targets else "nothing"
        errors.append("organizations_guardrail_info reads the guardrails in force for %s: give targets (OU ids and "
                      "account ids) or all_accounts=true, one of the two" % what)
    seen = set()
    for target in targets:
        if not isinstance(target, str):
            errors.append("targets has %r: each target is an OU id (ou-...), an account id (12 digits) or, with "
                          "allow_root=true, the root id (r-...)" % (target,))
            continue
        if target in seen:
            errors.append("targets has %r twice: list each target once, in the order to attach them" % target)
        seen.add(target)
        if rules.ROOT_ID.match(target):
            if state == "info":
                errors.append("targets has the root %r: set all_accounts=true to read every account of the organization, "
                              "or list OUs and accounts" % target)
            elif not params.get("allow_root"):
                errors.append("targets has the root %r: a guardrail on the root applies to every account of the "
                              "organization; set allow_root=true to allow it explicitly, or list OUs and accounts"
                              % target)
        elif not (rules.OU_ID.match(target) or rules.is_account_id(target)):
            errors.append("targets has %r: each target is an OU id (ou-<4-32 letters or digits>-<8-32>), an account id "
                          "(12 digits) or, with allow_root=true, the root id (r-...)" % target)
    types = params.get("policy_types") or []
    bad = [t for t in types if t not in TYPE_OPTIONS]
    if bad or not types:
        errors.append("policy_types=%r: one or both of %s" % (types, ", ".join(TYPE_OPTIONS)))
    cap = params.get("hop_limit_cap")
    if isinstance(cap, bool) or not isinstance(cap, int) or not 1 <= cap <= HOP_MAX:
        errors.append("hop_limit_cap=%r: a whole number from 1 to %d (containers need 2)" % (cap, HOP_MAX))
    for option in ("require_imdsv2", "deny_weakening", "deny_imdsv1_credentials", "require_instance_profile",
                   "allow_root", "preflight_only"):
        if _bad_bool(params.get(option)):
            errors.append("%s=%r: true or false" % (option, params.get(option)))
    for arn in params.get("exempt_principal_arns") or []:
        if not rules.is_role_arn_pattern(arn):
            errors.append("exempt_principal_arns has %r: an IAM role ARN (arn:aws:iam::123456789012:role/keyless-deployer; "
                          "* and ? allowed in the account and the name)" % (arn,))
    for option in ("declarative_http_endpoint", "declarative_instance_metadata_tags"):
        value = params.get(option)
        if value is not None and value not in PREFERENCES:
            errors.append("%s=%r: one of %s" % (option, value, ", ".join(PREFERENCES)))
    message = params.get("exception_message")
    if message is not None and (not isinstance(message, str) or not 1 <= len(message) <= 1024):
        errors.append("exception_message=%r: a text of 1 to 1024 characters" % (message,))
    member = params.get("member_role_name")
    if member is not None and not rules.is_role_name(member):
        errors.append("member_role_name=%r: an IAM role name (1-64 letters, digits and + = , . @ _ -)" % (member,))
    for region in params.get("regions") or []:
        if not rules.is_region(region):
            errors.append("regions has %r: a region name like us-east-1" % (region,))
    days = params.get("imdsv1_lookback_days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 455):
        errors.append("imdsv1_lookback_days=%r: a whole number of days from 1 to 455 (CloudWatch keeps daily data "
                      "455 days)" % (days,))
    for finding in params.get("accept_breaking") or []:
        if not isinstance(finding, str) or finding.count(":") < 3:
            errors.append("accept_breaking has %r: a finding id from the preflight (account:region:kind:name)"
                          % (finding,))
    return errors


def policy_types(params):
    return [TYPE_OPTIONS[t] for t in params.get("policy_types") or [] if t in TYPE_OPTIONS]


def policy_name(params, policy_type):
    return params["name"] if policy_type == SCP else params["name"] + DECLARATIVE_SUFFIX


def owned_tags(params):
    return {MANAGED_BY_KEY: MANAGED_BY_VALUE, GUARDRAIL_KEY: params["name"]}


def is_owned(tags, params):
    return (tags or {}).get(MANAGED_BY_KEY) == MANAGED_BY_VALUE and (tags or {}).get(GUARDRAIL_KEY) == params["name"]


def _instance_arn(partition):
    return INSTANCE_ARN.replace("arn:aws:", "arn:%s:" % partition, 1)


def scp_document(params, partition="aws"):
    """The service control policy of the options: one Deny statement per rule, each with a Sid."""
    instance = _instance_arn(partition)
    cap = str(params["hop_limit_cap"])
    exempt = sorted(set(params.get("exempt_principal_arns") or []))
    stmts = []
    if params.get("require_imdsv2"):
        stmts.append({"Sid": "RequireImdsv2AtLaunch", "Effect": "Deny", "Action": "ec2:RunInstances",
                      "Resource": instance, "Condition": {"StringNotEquals": {"ec2:MetadataHttpTokens": "required"}}})
    stmts.append({"Sid": "CapHopLimitAtLaunch", "Effect": "Deny", "Action": "ec2:RunInstances", "Resource": instance,
                  "Condition": {"NumericGreaterThan": {"ec2:MetadataHttpPutResponseHopLimit": cap}}})
    if params.get("deny_weakening"):
        for sid, condition in (("DenyImdsv1ByModify", {"StringNotEquals": {"ec2:MetadataHttpTokens": "required"}}),
                               ("DenyHopLimitAboveCapByModify",
                                {"NumericGreaterThan": {"ec2:MetadataHttpPutResponseHopLimit": cap}})):
            if exempt:
                condition = dict(condition, ArnNotLike={"aws:PrincipalArn": exempt if len(exempt) > 1 else exempt[0]})
            stmts.append({"Sid": sid, "Effect": "Deny", "Action": "ec2:ModifyInstanceMetadataOptions",
                          "Resource": instance, "Condition": condition})
    if params.get("deny_imdsv1_credentials"):
        stmts.append({"Sid": "DenyImdsv1RoleCredentials", "Effect": "Deny", "Action": "*", "Resource": "*",
                      "Condition": {"NumericLessThan": {"ec2:RoleDelivery": "2.0"}}})
    if params.get("require_instance_profile"):
        stmts.append({"Sid": "RequireInstanceProfileAtLaunch", "Effect": "Deny", "Action": "ec2:RunInstances",
                      "Resource": instance, "Condition": {"Null": {"ec2:InstanceProfile": "true"}}})
    return {"Version": "2012-10-17", "Statement": stmts}


def declarative_document(params):
    """The DECLARATIVE_POLICY_EC2 content: the account IMDS defaults every account under the targets gets."""
    defaults = {"http_tokens": {"@@assign": "required" if params.get("require_imdsv2", True) else "no_preference"},
                "http_put_response_hop_limit": {"@@assign": str(params["hop_limit_cap"])},
                "http_endpoint": {"@@assign": params.get("declarative_http_endpoint") or "no_preference"},
                "instance_metadata_tags": {"@@assign": params.get("declarative_instance_metadata_tags")
                                           or "no_preference"}}
    attributes = {"instance_metadata_defaults": defaults}
    if params.get("exception_message"):
        attributes["exception_message"] = {"@@assign": params["exception_message"]}
    return {"ec2_attributes": attributes}


def text(content):
    """The exact text sent to AWS (compact JSON), whose length is what the quota counts."""
    return json.dumps(content, separators=(",", ":"), sort_keys=False)


def desired_policies(params, partition="aws"):
    out = []
    for policy_type in policy_types(params):
        content = scp_document(params, partition) if policy_type == SCP else declarative_document(params)
        what = "service control policy" if policy_type == SCP else "EC2 declarative policy"
        out.append({"name": policy_name(params, policy_type), "type": policy_type, "content": content,
                    "description": "keyless.aws guardrail %s (%s): IMDSv2 required, hop limit at most %d; managed by "
                                   "keyless.aws.organizations_guardrail" % (params["name"], what, params["hop_limit_cap"]),
                    "tags": owned_tags(params)})
    return out


def check_documents(desired):
    """The documents against AWS's quotas and, for the SCP, the structure IAM policies have and the collection's
    least-privilege judgement (a Deny-only document passes it; the check keeps it that way)."""
    errors = []
    for policy in desired:
        length = len(text(policy["content"]))
        if length > MAX_CHARS[policy["type"]]:
            errors.append("the %s %s is %d characters: AWS accepts at most %d; fewer exempt_principal_arns make it "
                          "shorter" % (policy["type"], policy["name"], length, MAX_CHARS[policy["type"]]))
        if policy["type"] == SCP:
            try:
                parse_policy(policy["content"], "the service control policy", kind="permissions")
            except PolicyError as exc:
                errors.append(str(exc))
            if policy_length(policy["content"]) != length:
                errors.append("the service control policy is not sent compact")
            errors.extend(lint_policy(policy["content"], "permissions"))
    return errors


def same_content(policy_type, a, b):
    if policy_type == SCP:
        return policies_equal(a, b)
    return a == b


def findings_of(preflight_target):
    return [f for account in preflight_target.get("accounts", []) for f in account.get("findings", [])]


def gate(targets, attached, preflight, accept_breaking):
    """Which targets to attach, in order (pure). attached: targets that have every guardrail policy already;
    preflight: {target: {"clean", "accounts": [{"findings", "errors"}]}}. A target already attached stays; a new one
    needs a clean preflight, or every blocking finding named in accept_breaking; the first one that has neither
    stops the run: it and the targets after it are not attached."""
    accepted = set(accept_breaking or [])
    attach = []
    for target in targets:
        if target in attached:
            continue
        report = preflight.get(target) or {}
        blocking = [f["id"] for f in findings_of(report) if f["id"] not in accepted]
        errors = [e for account in report.get("accounts", []) for e in account.get("errors", [])]
        if blocking or errors or not report:
            reason = ("preflight errors: %s" % "; ".join(errors[:5])) if errors else \
                ("%d finding(s) would break under the guardrail and are not in accept_breaking: %s"
                 % (len(blocking), ", ".join(blocking[:10]))) if blocking else "no preflight"
            return {"attach": attach, "stopped_at": target, "reason": reason, "blocking": blocking}
        attach.append(target)
    return {"attach": attach, "stopped_at": None, "reason": None, "blocking": []}


def _tags_list(tags):
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def _created_id(index, target):
    """AttachPolicy's parameters once CreatePolicy (the plan's call number `index`) has answered with the id."""
    def params(responses):
        return {"PolicyId": responses[index]["Policy"]["PolicySummary"]["Id"], "TargetId": target}
    return params


def plan_guardrail(desired, observed, attach_targets, state, keep_targets=()):
    """The Organizations calls (pure). desired: desired_policies(); observed: {name: {"id", "type", "content",
    "targets", "owned"}} of the policies with our names; attach_targets: what gate() allowed; keep_targets: the
    listed targets (ours stay attached to them; ours on a target no longer listed is detached). A policy of ours whose
    type is no longer in policy_types is detached and deleted, as with state=absent."""
    plan = Plan()
    wanted = set() if state == "absent" else {p["name"] for p in desired}
    # ours and no longer wanted (state=absent, or a policy type dropped from policy_types): detached and deleted
    for name in sorted(n for n in observed if n not in wanted and observed[n]["owned"]):
        policy = observed[name]
        for target in sorted(policy["targets"]):
            plan.add("DetachPolicy", "%s from %s" % (name, target), {"PolicyId": policy["id"], "TargetId": target},
                     before={"attached": True}, after={"attached": False}, service="organizations")
        plan.add("DeletePolicy", name, {"PolicyId": policy["id"]}, before={"exists": True},
                 after={"exists": False}, service="organizations")
    if state == "absent":
        return plan
    for policy in desired:
        current = observed.get(policy["name"])
        content = text(policy["content"])
        if current is None:
            index = len(plan)
            plan.add("CreatePolicy", policy["name"], {"Name": policy["name"], "Type": policy["type"],
                                                      "Description": policy["description"], "Content": content,
                                                      "Tags": _tags_list(policy["tags"])},
                     before=None, after={"content": policy["content"]}, service="organizations")
            for target in attach_targets:
                plan.add("AttachPolicy", "%s to %s" % (policy["name"], target), _created_id(index, target),
                         before={"attached": False}, after={"attached": True}, service="organizations")
            continue
        if not same_content(policy["type"], current["content"], policy["content"]):
            plan.add("UpdatePolicy", policy["name"], {"PolicyId": current["id"], "Content": content,
                                                      "Description": policy["description"]},
                     before={"content": current["content"]}, after={"content": policy["content"]},
                     service="organizations")
        for target in attach_targets:
            if target not in current["targets"]:
                plan.add("AttachPolicy", "%s to %s" % (policy["name"], target),
                         {"PolicyId": current["id"], "TargetId": target},
                         before={"attached": False}, after={"attached": True}, service="organizations")
        for target in sorted(current["targets"]):
            if target not in keep_targets:
                plan.add("DetachPolicy", "%s from %s" % (policy["name"], target),
                         {"PolicyId": current["id"], "TargetId": target},
                         before={"attached": True}, after={"attached": False}, service="organizations")
    return plan


def view(observed):
    return {name: {"type": p["type"], "id": p.get("id"), "content": p["content"], "targets": sorted(p["targets"])}
            for name, p in sorted(observed.items())}


def predicted(desired, observed, plan, state):
    """What the policies look like after the plan (check mode returns this)."""
    if state == "absent":
        return {}
    out = {}
    for policy in desired:
        current = observed.get(policy["name"]) or {"id": None, "targets": []}
        targets = set(current["targets"])
        for change in plan:
            if change.operation == "AttachPolicy" and change.target.startswith(policy["name"] + " to "):
                targets.add(change.target.split(" to ", 1)[1])
            if change.operation == "DetachPolicy" and change.target.startswith(policy["name"] + " from "):
                targets.discard(change.target.split(" from ", 1)[1])
        out[policy["name"]] = {"type": policy["type"], "id": current["id"], "content": policy["content"],
                               "targets": sorted(targets)}
    return out


# The options organizations_guardrail_info takes (the rules it judges by); the rest keep their defaults there.
INFO_OPTIONS = ("name", "targets", "all_accounts", "policy_types", "require_imdsv2", "hop_limit_cap", "deny_weakening",
                "exempt_principal_arns", "deny_imdsv1_credentials", "require_instance_profile")


def argument_spec(info=False):
    """The options of organizations_guardrail, or with info=True of organizations_guardrail_info."""
    spec = _spec()
    if info:
        return {name: spec[name] for name in INFO_OPTIONS}
    spec.pop("all_accounts")
    spec["state"] = dict(type="str", choices=["present", "absent"], default="present")
    return spec


def info_params(given):
    """organizations_guardrail_info's params as the engine reads them: state=info, every other option's default."""
    params = {name: option.get("default") for name, option in _spec().items()}
    params.update(given, state="info")
    return params


def _spec():
    return dict(
        name=dict(type="str", default="keyless-imds-guardrail"),
        state=dict(type="str", choices=["present", "absent", "info"], default="present"),
        targets=dict(type="list", elements="str", default=[]),
        all_accounts=dict(type="bool", default=False),
        allow_root=dict(type="bool", default=False),
        policy_types=dict(type="list", elements="str", default=["service_control_policy"]),
        require_imdsv2=dict(type="bool", default=True),
        hop_limit_cap=dict(type="int", default=2),
        deny_weakening=dict(type="bool", default=True),
        exempt_principal_arns=dict(type="list", elements="str", default=[]),
        deny_imdsv1_credentials=dict(type="bool", default=True),
        require_instance_profile=dict(type="bool", default=False),
        declarative_http_endpoint=dict(type="str", choices=["no_preference", "enabled", "disabled"],
                                       default="no_preference"),
        declarative_instance_metadata_tags=dict(type="str", choices=["no_preference", "enabled", "disabled"],
                                                default="no_preference"),
        exception_message=dict(type="str"),
        member_role_name=dict(type="str", default="keyless-deployer"),
        regions=dict(type="list", elements="str"),
        imdsv1_lookback_days=dict(type="int", default=14),
        check_cloudtrail=dict(type="bool", default=False),
        cloudtrail_days=dict(type="int", default=90),
        accept_breaking=dict(type="list", elements="str", default=[]),
        preflight_only=dict(type="bool", default=False),
    )
