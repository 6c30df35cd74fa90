"""fleet_audit: the findings table, the audit row, the summary and the `expected` validation."""

from __future__ import annotations

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.fleet import audit as fa

ARN = "arn:aws:iam::123456789012:instance-profile/app-profile"
OTHER_ARN = "arn:aws:iam::123456789012:instance-profile/team/legacy-profile"
GOOD_META = {"HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 2,
             "HttpProtocolIpv6": "disabled", "InstanceMetadataTags": "disabled", "State": "applied"}
PROFILES = {"app-profile": {"found": True, "role_name": "app-role"},
            "legacy-profile": {"found": True, "role_name": "legacy-role"},
            "empty-profile": {"found": True, "role_name": None},
            "deleted-profile": {"found": False, "role_name": None}}
FULL = {"instance_profile": "app-profile", "http_tokens": "required", "http_endpoint": "enabled", "min_hop_limit": 2}


def record(meta=None, **kw):
    rec = {"instance_id": "i-0000000000000001", "state": "running", "name": "web-1", "profile_arn": None,
           "profile_id": None, "metadata": dict(GOOD_META, **(meta or {})), "launch_template": None}
    rec.update(kw)
    return rec


def assoc(arn=ARN):
    return {"association_id": "iip-assoc-1", "state": "associated", "profile_arn": arn}


DEFAULT = object()


def row(meta=None, association=DEFAULT, expected=None, calls=None, checked=False, rec=None, **kw):
    association = assoc() if association is DEFAULT else association
    expected = FULL if expected is None else expected
    return fa.audit_row(rec or record(meta, **kw), association, PROFILES, fa.normalize_expected(expected),
                        imdsv1_calls=calls, imdsv1_checked=checked)


@pytest.mark.parametrize("meta, association, expected, calls, checked, want", [
    (None, assoc(), FULL, None, False, []),
    (None, None, FULL, None, False, ["no_profile"]),
    (None, assoc(OTHER_ARN), FULL, None, False, ["wrong_profile"]),
    (None, assoc(ARN), dict(FULL, instance_profile=ARN), None, False, []),
    (None, assoc(ARN), dict(FULL, instance_profile="arn:aws:iam::999999999999:instance-profile/app-profile"), None,
     False, ["wrong_profile"]),
    (None, assoc("arn:aws:iam::1:instance-profile/deleted-profile"), {}, None, False, ["profile_not_found"]),
    (None, assoc("arn:aws:iam::1:instance-profile/empty-profile"), {}, None, False, ["profile_without_role"]),
    (None, assoc(OTHER_ARN), {"role": "app-role"}, None, False, ["wrong_role"]),
    (None, assoc(), {"role": "arn:aws:iam::123456789012:role/x/app-role"}, None, False, []),
    (None, None, {"role": "app-role"}, None, False, ["no_profile"]),
    ({"HttpTokens": "optional"}, assoc(), FULL, None, False, ["imdsv1_allowed"]),
    ({"HttpTokens": "required"}, assoc(), {"http_tokens": "optional"}, None, False, ["imdsv2_required"]),
    ({"HttpEndpoint": "disabled"}, assoc(), FULL, None, False, ["endpoint_disabled"]),
    ({"HttpEndpoint": "enabled"}, assoc(), {"http_endpoint": "disabled"}, None, False, ["endpoint_enabled"]),
    ({"HttpPutResponseHopLimit": 1}, assoc(), FULL, None, False, ["hop_limit_below_minimum"]),
    ({"HttpPutResponseHopLimit": 3}, assoc(), FULL, None, False, []),
    (None, assoc(), FULL, 5.0, True, ["imdsv1_in_use"]),
    (None, assoc(), FULL, 0, True, []),
    (None, assoc(), {}, 7, True, ["imdsv1_in_use"]),
    # nothing expected, nothing wrong with the profile: no findings, whatever the options are
    ({"HttpTokens": "optional", "HttpPutResponseHopLimit": 1}, None, {}, None, False, []),
    # everything wrong at once, listed in the fixed order
    ({"HttpTokens": "optional", "HttpEndpoint": "disabled", "HttpPutResponseHopLimit": 1}, assoc(OTHER_ARN), FULL,
     3, True, ["wrong_profile", "imdsv1_allowed", "endpoint_disabled", "hop_limit_below_minimum", "imdsv1_in_use"]),
])
def test_findings_table(meta, association, expected, calls, checked, want):
    got = row(meta, association, expected, calls, checked)
    assert got["findings"] == want
    assert got["compliant"] is (not want)


def test_row_shape_matches_the_contract():
    got = row(rec=record(launch_template={"id": "lt-0abc", "name": None, "version": "3"}))
    assert got == {
        "instance_id": "i-0000000000000001", "name": "web-1", "state": "running",
        "instance_profile_arn": ARN, "instance_profile_name": "app-profile", "association_state": "associated",
        "role_name": "app-role",
        "metadata_options": {"http_tokens": "required", "http_endpoint": "enabled", "http_put_response_hop_limit": 2,
                             "http_protocol_ipv6": "disabled", "instance_metadata_tags": "disabled"},
        "imdsv1_calls": None, "imdsv1_signal": None, "imdsv1_rejected": None, "launch_template": {"id": "lt-0abc", "name": None, "version": "3"},
        "findings": [], "compliant": True}


def test_profile_comes_from_the_association_not_describe_instances():
    # moto's DescribeInstances keeps the old profile after a Replace; the association is the truth
    got = row(rec=record(profile_arn=OTHER_ARN), association=assoc(ARN))
    assert got["instance_profile_name"] == "app-profile" and got["role_name"] == "app-role"


def test_template_name_filled_from_lookup():
    rec = record(launch_template={"id": "lt-0abc", "name": None, "version": "1"})
    got = fa.audit_row(rec, assoc(), PROFILES, {}, template_names={"lt-0abc": "web"})
    assert got["launch_template"] == {"id": "lt-0abc", "name": "web", "version": "1"}


def test_imdsv1_calls_null_unless_checked():
    assert row(calls=4, checked=False)["imdsv1_calls"] is None
    assert row(calls=4, checked=True)["imdsv1_calls"] == 4


def test_summary_counts():
    rows = [row(), row(association=None), row({"HttpTokens": "optional"}, association=None),
            row(rec=record(state="stopped"))]
    summary = fa.summarize(rows, skipped=[{"instance_id": "i-x"}], missing=["i-y", "i-z"])
    assert summary == {"total": 4, "compliant": 2, "non_compliant": 2, "by_state": {"running": 3, "stopped": 1},
                       "by_finding": {"no_profile": 2, "imdsv1_allowed": 1}, "skipped": 1, "missing": 2}
    assert fa.summarize([]) == {"total": 0, "compliant": 0, "non_compliant": 0, "by_state": {}, "by_finding": {},
                                "skipped": 0, "missing": 0}


@pytest.mark.parametrize("expected, fragment", [
    ("required", "expected='required': must be a dict"),
    ({"http_token": "required"}, "expected has unknown keys http_token: use instance_profile, role"),
    ({"http_tokens": "yes"}, "expected.http_tokens='yes' is not allowed: use optional or required"),
    ({"http_endpoint": "on"}, "expected.http_endpoint='on' is not allowed"),
    ({"min_hop_limit": 0}, "expected.min_hop_limit=0 is out of range"),
    ({"min_hop_limit": 65}, "expected.min_hop_limit=65"),
    ({"min_hop_limit": "two"}, "expected.min_hop_limit='two'"),
    ({"min_hop_limit": 1.5}, "expected.min_hop_limit=1.5"),
    ({"instance_profile": "bad name!"}, "expected.instance_profile='bad name!' is neither"),
    ({"instance_profile": "arn:aws:iam::123:instance-profile/x"}, "is neither"),
    ({"role": "arn:aws:iam::123456789012:user/x"}, "expected.role="),
])
def test_validate_expected_rejects(expected, fragment):
    errors = fa.validate_expected(expected)
    assert any(fragment in e for e in errors), errors


@pytest.mark.parametrize("expected", [None, {}, FULL, {"instance_profile": OTHER_ARN, "min_hop_limit": "2"},
                                      {"role": "arn:aws-us-gov:iam::123456789012:role/app"},
                                      {"http_tokens": None}])
def test_validate_expected_accepts(expected):
    assert fa.validate_expected(expected) == []


def test_normalize_expected_drops_nones_and_casts_hop():
    assert fa.normalize_expected({"http_tokens": None, "min_hop_limit": "2"}) == {"min_hop_limit": 2}
    assert fa.normalize_expected(None) == {}


def test_every_finding_is_documented_in_the_module():
    from ansible_collections.keyless.aws.plugins.modules import ec2_fleet_info
    for name in fa.FINDING_NAMES:
        assert "C(%s)" % name in ec2_fleet_info.DOCUMENTATION, name


# ---- roles that can escalate ------------------------------------------------------------------------------------

ROLE_ARN = "arn:aws:iam::123456789012:role/app/app-role"
SAFE = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}
PASS_ANY = {"Version": "2012-10-17", "Statement": [{"Sid": "Pass", "Effect": "Allow", "Action": "iam:PassRole",
                                                    "Resource": "*"}]}
SELF = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:PutRolePolicy",
                                                "Resource": ROLE_ARN}]}


def inline(name, document):
    return {"type": "inline", "name": name, "document": document}


def managed(arn, document):
    return {"type": "managed", "name": arn.rsplit("/", 1)[-1], "arn": arn, "document": document}


@pytest.mark.parametrize("policies, escalations", [
    ([], []),
    ([inline("read", SAFE), managed("arn:aws:iam::aws:policy/ReadOnlyAccess", SAFE)], []),
    ([inline("launch", PASS_ANY)], [("inline launch", "Pass", "'iam:PassRole' on Resource '*'")]),
    ([managed("arn:aws:iam::123456789012:policy/launch", PASS_ANY)],
     [("arn:aws:iam::123456789012:policy/launch", "Pass", "PassRole to a service that runs code")]),
    ([managed("arn:aws:iam::aws:policy/AdministratorAccess", None)],
     [("arn:aws:iam::aws:policy/AdministratorAccess", None, "AdministratorAccess grants administrator-level access")]),
    ([inline("self", SELF)], [("inline self", 0, "includes this role itself (role/app/app-role)")]),
    ([inline("unreadable", "%7Bbroken")], []),
])
def test_judge_role(policies, escalations):
    judged = fa.judge_role("app-role", ROLE_ARN, policies)
    assert judged["can_escalate"] is bool(escalations)
    assert judged["policies"] == [p.get("arn") or "inline " + p["name"] for p in policies]
    assert [(e["policy"], e["statement"]) for e in judged["escalations"]] == [(p, s) for p, s, _m in escalations]
    for entry, (_p, _s, fragment) in zip(judged["escalations"], escalations):
        assert fragment in entry["message"]


def test_role_can_escalate_is_a_finding_of_every_instance_of_that_role():
    escalating = fa.audit_row(record(), assoc(), PROFILES, {}, escalating_roles={"app-role"})
    assert escalating["findings"] == ["role_can_escalate"] and not escalating["compliant"]
    other = fa.audit_row(record(), assoc(OTHER_ARN), PROFILES, {}, escalating_roles={"app-role"})
    assert other["findings"] == [] and other["compliant"]
    ordered = fa.audit_row(record({"HttpTokens": "optional"}), assoc(OTHER_ARN), PROFILES, FULL,
                           escalating_roles={"legacy-role"})
    assert ordered["findings"] == ["wrong_profile", "role_can_escalate", "imdsv1_allowed"]


def test_role_rows_count_instances_and_sort():
    rows = [fa.audit_row(record(), assoc(), PROFILES, {}), fa.audit_row(record(), assoc(), PROFILES, {}),
            fa.audit_row(record(), assoc(OTHER_ARN), PROFILES, {})]
    judged = {"legacy-role": fa.judge_role("legacy-role", None, []),
              "app-role": fa.judge_role("app-role", ROLE_ARN, [inline("launch", PASS_ANY)])}
    roles = fa.role_rows(rows, judged)
    assert [(r["role_name"], r["instances"], r["can_escalate"]) for r in roles] == [
        ("app-role", 2, True), ("legacy-role", 1, False)]
