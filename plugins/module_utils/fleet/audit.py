# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ec2_fleet_info's pure half: the `expected` spec, one audit row per instance, findings, summary.

No I/O here: the module observes in bulk (DescribeInstances, associations, one GetInstanceProfile per
distinct profile, the policies of each distinct role once, optional CloudWatch and DescribeLaunchTemplates)
and hands plain dicts to these functions, so every finding is covered by table tests.

Role escalation (finding role_can_escalate): a role can escalate when one of its policies has a statement that
iam.lint.judge_permissions refuses (an escalation path on unscoped resources, administrator access, or a write
to the role's own policies or trust) or when it has an admin AWS managed policy attached. Each policy is judged
on its own, as iam_role judges it; permissions boundaries and SCPs are not evaluated.

Private to the collection: no stable API.
"""

from __future__ import annotations


from ansible_collections.keyless.aws.plugins.module_utils.aws import rules
from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import name_of, parse_arn
from ansible_collections.keyless.aws.plugins.module_utils.fleet.metadata import options_view
from ansible_collections.keyless.aws.plugins.module_utils.iam.lint import is_admin_managed_policy, judge_permissions

EXPECTED_KEYS = ("instance_profile", "role", "http_tokens", "http_endpoint", "min_hop_limit")
HTTP_TOKENS = ("optional", "required")
HTTP_ENDPOINT = ("enabled", "disabled")

# finding -> what it means (documented in the module; the order here is the order findings are listed)
FINDINGS = (
    ("no_profile", "no instance profile is associated, although one is expected"),
    ("wrong_profile", "the associated instance profile is not the expected one"),
    ("profile_not_found", "the associated instance profile does not exist in IAM any more"),
    ("profile_without_role", "the associated instance profile holds no role"),
    ("wrong_role", "the role in the instance profile is not the expected one"),
    ("role_can_escalate", "the role's policies let it escalate to administrator (see roles[].escalations)"),
    ("imdsv1_allowed", "http_tokens is optional while required is expected"),
    ("imdsv2_required", "http_tokens is required while optional is expected"),
    ("endpoint_disabled", "the metadata endpoint is disabled while enabled is expected"),
    ("endpoint_enabled", "the metadata endpoint is enabled while disabled is expected"),
    ("hop_limit_below_minimum", "the hop limit is below expected.min_hop_limit"),
    ("imdsv1_in_use", "CloudWatch MetadataNoToken shows IMDSv1 calls within the lookback window"),
)
FINDING_NAMES = tuple(name for name, _text in FINDINGS)


def validate_expected(expected):
    """Pure checks of the `expected` option; returns messages naming key, value and what is allowed."""
    if expected is None:
        return []
    if not isinstance(expected, dict):
        return ["expected=%r: must be a dict with keys %s" % (expected, ", ".join(EXPECTED_KEYS))]
    errors = []
    unknown = sorted(k for k in expected if k not in EXPECTED_KEYS)
    if unknown:
        errors.append("expected has unknown keys %s: use %s" % (", ".join(unknown), ", ".join(EXPECTED_KEYS)))
    profile = expected.get("instance_profile")
    if profile is not None and not rules.is_profile_arn_or_name(profile):
        errors.append("expected.instance_profile=%r is neither an instance profile name (1-128 of A-Za-z0-9+=,.@_-) "
                      "nor an arn:<partition>:iam::<account>:instance-profile/<name> ARN" % (profile,))
    role = expected.get("role")
    if role is not None and not rules.is_role_arn_or_name(role):
        errors.append("expected.role=%r is neither a role name nor an arn:<partition>:iam::<account>:role/<name> ARN"
                      % (role,))
    if expected.get("http_tokens") is not None and expected["http_tokens"] not in HTTP_TOKENS:
        errors.append("expected.http_tokens=%r is not allowed: use optional or required" % (expected["http_tokens"],))
    if expected.get("http_endpoint") is not None and expected["http_endpoint"] not in HTTP_ENDPOINT:
        errors.append("expected.http_endpoint=%r is not allowed: use enabled or disabled" % (expected["http_endpoint"],))
    hop = expected.get("min_hop_limit")
    if hop is not None:
        try:
            hop_ok = not isinstance(hop, bool) and 1 <= int(hop) <= 64 and int(hop) == float(hop)
        except (TypeError, ValueError):
            hop_ok = False
        if not hop_ok:
            errors.append("expected.min_hop_limit=%r is out of range: use a whole number from 1 to 64" % (hop,))
    return errors


def normalize_expected(expected):
    """The expected spec with only the keys given (min_hop_limit as int)."""
    out = dict((k, v) for k, v in (expected or {}).items() if v is not None)
    if "min_hop_limit" in out:
        out["min_hop_limit"] = int(out["min_hop_limit"])
    return out


def metadata_options(raw):
    """MetadataOptions (API keys) -> the contract's snake_case fields."""
    raw = raw or {}
    return {
        "http_tokens": raw.get("HttpTokens"),
        "http_endpoint": raw.get("HttpEndpoint"),
        "http_put_response_hop_limit": raw.get("HttpPutResponseHopLimit"),
        "http_protocol_ipv6": raw.get("HttpProtocolIpv6"),
        "instance_metadata_tags": raw.get("InstanceMetadataTags"),
    }


def _profile_matches(expected_profile, arn):
    if expected_profile.startswith("arn:"):
        return arn == expected_profile
    return name_of(arn) == expected_profile


def findings(row, expected, imdsv1_checked=False, profile_known=True, role_escalates=False):
    """The findings of one audit row against `expected` (pure)."""
    out = []
    arn = row.get("instance_profile_arn")
    want_profile = expected.get("instance_profile")
    want_role = expected.get("role")
    if (want_profile or want_role) and not arn:
        out.append("no_profile")
    if want_profile and arn and not _profile_matches(want_profile, arn):
        out.append("wrong_profile")
    if arn and not profile_known:
        out.append("profile_not_found")
    elif arn and not row.get("role_name"):
        out.append("profile_without_role")
    if want_role and row.get("role_name") and row["role_name"] != name_of(want_role):
        out.append("wrong_role")
    if role_escalates and row.get("role_name"):
        out.append("role_can_escalate")
    meta = row.get("metadata_options") or {}
    tokens = expected.get("http_tokens")
    if tokens == "required" and meta.get("http_tokens") != "required":
        out.append("imdsv1_allowed")
    elif tokens == "optional" and meta.get("http_tokens") == "required":
        out.append("imdsv2_required")
    endpoint = expected.get("http_endpoint")
    if endpoint == "enabled" and meta.get("http_endpoint") == "disabled":
        out.append("endpoint_disabled")
    elif endpoint == "disabled" and meta.get("http_endpoint") != "disabled":
        out.append("endpoint_enabled")
    minimum = expected.get("min_hop_limit")
    hop = meta.get("http_put_response_hop_limit")
    if minimum is not None and (hop is None or hop < minimum):
        out.append("hop_limit_below_minimum")
    if imdsv1_checked and (row.get("imdsv1_calls") or 0) > 0:
        out.append("imdsv1_in_use")
    return out


def audit_row(record, association, profiles, expected, imdsv1_calls=None, imdsv1_checked=False,
              template_names=None, escalating_roles=(), imdsv1=None):
    """One `instances` entry of the contract.

    record: fleet.instance_record(); association: fleet.association_index() entry or None (the profile
    is read from the active association, never from DescribeInstances, which goes stale in moto);
    profiles: {profile name: {"found": bool, "role_name": str|None}} from one GetInstanceProfile each;
    template_names: {launch template id: name}; escalating_roles: names of roles that can escalate (judge_role);
    imdsv1: the instance's evidence (imdsv1_usage.judge) for its signal and refused calls.
    """
    arn = (association or {}).get("profile_arn")
    name = name_of(arn)
    profile = profiles.get(name) if name else None
    template = record.get("launch_template")
    if template:
        template = {"id": template.get("id"),
                    "name": template.get("name") or (template_names or {}).get(template.get("id")),
                    "version": template.get("version")}
    row = {
        "instance_id": record["instance_id"],
        "name": record.get("name"),
        "state": record.get("state"),
        "instance_profile_arn": arn,
        "instance_profile_name": name,
        "association_state": (association or {}).get("state"),
        "role_name": (profile or {}).get("role_name"),
        "metadata_options": metadata_options(record.get("metadata")),
        "imdsv1_calls": imdsv1_calls if imdsv1_checked else None,
        "imdsv1_signal": (imdsv1 or {}).get("signal") if imdsv1_checked else None,
        "imdsv1_rejected": (imdsv1 or {}).get("rejected") if imdsv1_checked else None,
        "launch_template": template or None,
    }
    row["findings"] = findings(row, expected, imdsv1_checked, profile_known=(profile or {}).get("found", True),
                               role_escalates=row["role_name"] in escalating_roles)
    row["compliant"] = not row["findings"]
    return row


def judge_role(role_name, role_arn, policies):
    """One `roles` entry: {role_name, role_arn, policies, can_escalate, escalations}.

    policies: iam.role_policies dicts ({type, name, arn, document}); an admin AWS managed policy needs no
    document (it is judged by name), a document IAM returned unparsed is listed but cannot be judged."""
    parsed = parse_arn(role_arn) or {}
    own_role = (parsed.get("path") or "/", role_name)
    labels, escalations = [], []
    for policy in policies:
        label = policy.get("arn") or "inline %s" % policy["name"]
        labels.append(label)
        if policy["type"] == "managed" and is_admin_managed_policy(policy.get("arn")):
            escalations.append({"policy": label, "statement": None,
                                "message": "the AWS managed policy %s grants administrator-level access"
                                           % policy.get("name")})
        elif isinstance(policy.get("document"), dict):
            escalations.extend({"policy": label, "statement": r.sid or r.index, "message": r.message}
                               for r in judge_permissions(policy["document"], own_role=own_role))
    return {"role_name": role_name, "role_arn": role_arn, "policies": labels, "can_escalate": bool(escalations),
            "escalations": escalations}


def role_rows(rows, judged):
    """The `roles` entries, sorted by name: each judged role with the number of audited instances using it."""
    counts = {}
    for row in rows:
        if row.get("role_name"):
            counts[row["role_name"]] = counts.get(row["role_name"], 0) + 1
    return [dict(judged[name], instances=counts.get(name, 0)) for name in sorted(judged)]


def summarize(rows, skipped=(), missing=()):
    """summary: {total, compliant, non_compliant, by_state, by_finding, skipped, missing}."""
    by_state = {}
    by_finding = dict((name, 0) for name in FINDING_NAMES)
    compliant = 0
    for row in rows:
        by_state[row["state"]] = by_state.get(row["state"], 0) + 1
        compliant += 1 if row["compliant"] else 0
        for finding in row["findings"]:
            by_finding[finding] = by_finding.get(finding, 0) + 1
    return {
        "total": len(rows),
        "compliant": compliant,
        "non_compliant": len(rows) - compliant,
        "by_state": by_state,
        "by_finding": dict((k, v) for k, v in by_finding.items() if v),
        "skipped": len(skipped),
        "missing": len(missing),
    }


# ---------------------------------------------------------------- launch templates

TEMPLATE_NOT_FOUND = "template_not_found"


def template_rows(records, versions, expected):
    """The `templates` entries: one per distinct launch template the audited instances came from (pure).

    records: fleet.instance_record() dicts; versions: {template id: default version} from
    ec2account.launch_templates.default_versions() (a deleted template is absent -> finding template_not_found).
    The template is checked at its *default* version, the one Auto Scaling groups and fleets launch
    from, so a compliant template means replacements are born compliant.
    """

    counts, names = {}, {}
    for record in records:
        template = record.get("launch_template") or {}
        if template.get("id"):
            counts[template["id"]] = counts.get(template["id"], 0) + 1
            names.setdefault(template["id"], template.get("name"))
    rows = []
    for template_id in sorted(counts):
        version = versions.get(template_id)
        if version is None:
            row = {"id": template_id, "name": names[template_id], "version": None, "instance_profile": None,
                   "metadata_options": None, "findings": [TEMPLATE_NOT_FOUND]}
        else:
            row = template_view(version)
            row["findings"] = template_findings(row, expected)
        row["instances"] = counts[template_id]
        row["compliant"] = not row["findings"]
        rows.append(row)
    return rows


def summarize_templates(rows):
    """summary.templates: {total, compliant, non_compliant, by_finding}."""
    by_finding = {}
    for row in rows:
        for finding in row["findings"]:
            by_finding[finding] = by_finding.get(finding, 0) + 1
    compliant = sum(1 for row in rows if row["compliant"])
    return {"total": len(rows), "compliant": compliant, "non_compliant": len(rows) - compliant,
            "by_finding": by_finding}


def template_findings(view, expected):
    """Findings of a template_view() against ec2_fleet_info's `expected` (instance_profile, http_tokens,
    http_endpoint, min_hop_limit), with fleet_audit's finding names. A metadata field the template does
    not set counts as not set: what such a launch gets depends on account defaults and the AMI."""
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
            same = name_of(want) == (have.get("name") or name_of(have.get("arn")))
        if not same:
            out.insert(0, "wrong_profile")
    return out


def profile_view(current):
    """An IamInstanceProfile spec of launch data ({Arn} or {Name}) -> {arn, name} | {name} | None."""
    current = current or {}
    if current.get("Arn"):
        parsed = parse_arn(current["Arn"]) or {}
        return {"arn": current["Arn"], "name": parsed.get("name")}
    if current.get("Name"):
        return {"name": current["Name"]}
    return None


def template_view(version):
    """What a version launches with: {id, name, version, instance_profile ({arn, name} | {name} | None),
    metadata_options ({option name: value} of the fields the template sets)}."""
    data = version.get("LaunchTemplateData") or {}
    return {"id": version.get("LaunchTemplateId"), "name": version.get("LaunchTemplateName"),
            "version": version.get("VersionNumber"), "instance_profile": profile_view(data.get("IamInstanceProfile")),
            "metadata_options": options_view(data.get("MetadataOptions"))}
