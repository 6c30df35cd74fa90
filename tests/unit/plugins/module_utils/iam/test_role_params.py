"""role_params: what IAM would refuse in iam_role's documents, found with no AWS call (sizes, quotas, kinds)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.iam import role_params
from ansible_collections.keyless.aws.plugins.module_utils.iam.documents import policy_length

COUNTED = "as IAM counts them (JSON without whitespace outside strings)"


def params(**kw):
    out = {"name": "AppRole", "path": None, "description": None, "assume_role_policy_document": None,
           "trusted_services": None, "max_session_duration": None, "permissions_boundary": None,
           "managed_policies": None, "purge_managed_policies": False, "inline_policies": None,
           "purge_inline_policies": False, "tags": None, "purge_tags": True, "state": "present",
           "wait": True, "wait_timeout": 120, "allow_admin": False, "trust_policy_size_quota": 2048}
    out.update(kw)
    return out


def inline(length):
    """A permissions policy of exactly `length` characters as IAM counts them."""
    base = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                    "Resource": "arn:aws:s3:::b/"}]}
    base["Statement"][0]["Resource"] += "x" * (length - policy_length(base))
    assert policy_length(base) == length
    return base


def trust(length):
    """A trust policy of exactly `length` characters as IAM counts them."""
    base = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"AWS": "arn:aws:iam::123456789012:role/"}}]}
    base["Statement"][0]["Principal"]["AWS"] += "x" * (length - policy_length(base))
    assert policy_length(base) == length
    return base


def errors_of(**kw):
    return role_params.role_desired(params(**kw))[1]


# ---- inline policies: 10,240 in total -----------------------------------------------------------------

def test_inline_total_at_the_quota_passes():
    assert errors_of(inline_policies={"A": inline(5000), "B": inline(5240)}) == []


def test_inline_total_over_the_quota_is_refused_naming_each_policy():
    errors = errors_of(inline_policies={"B": json.dumps(inline(5241), indent=4), "A": inline(5000)})
    assert errors == [
        "inline_policies are 10,241 characters in total %s (A 5,000, B 5,241): IAM allows 10,240 for all inline "
        "policies of a role together; move statements into a managed policy (keyless.aws.iam_managed_policy, 6,144 "
        "characters each) and attach it with managed_policies" % COUNTED]


def test_whitespace_outside_strings_does_not_count():
    pretty = json.dumps(inline(10240), indent=8)
    assert len(pretty) > 10240
    assert errors_of(inline_policies={"A": pretty}) == []


def test_one_inline_policy_over_any_quota_is_refused_by_parse():
    errors = errors_of(inline_policies={"Big": inline(10241)})
    assert errors == ["inline_policies.Big is 10,241 characters long %s: IAM allows 10,240 for all inline policies "
                      "of a role together and 6,144 for a managed policy; split the statements over several managed "
                      "policies" % COUNTED]


def test_inline_total_with_the_policies_the_role_keeps():
    """After observe: purge_inline_policies=false keeps the role's other inline policies; they count too."""
    declared = {"New": inline(5000)}
    kept = {"Old": inline(6000), "New": inline(9000)}  # New is replaced, so its old size does not count
    assert role_params.inline_size_errors(declared, kept) == [
        "inline_policies and the role's other inline policies (Old, kept because purge_inline_policies=false) are "
        "11,000 characters in total %s (New 5,000, Old 6,000): IAM allows 10,240 for all inline policies of a role "
        "together; move statements into a managed policy (keyless.aws.iam_managed_policy, 6,144 characters each) and "
        "attach it with managed_policies, or set purge_inline_policies: true to delete the others" % COUNTED]
    assert role_params.inline_size_errors(declared, {"Old": inline(5240)}) == []
    assert role_params.inline_size_errors(declared, {"Old": "x" * 5241})  # a stored text that did not parse


# ---- the trust policy: 2,048 by default, raisable to 4,096 -----------------------------------------------

def test_trust_at_the_default_quota_passes():
    assert errors_of(assume_role_policy_document=json.dumps(trust(2048))) == []


def test_trust_over_the_default_quota_says_how_to_raise_it():
    errors = errors_of(assume_role_policy_document=json.dumps(trust(2049)))
    assert errors == [
        "assume_role_policy_document is 2,049 characters long %s: IAM's trust policy quota is 2,048 by default. The "
        "quota can be raised up to 4,096 (Service Quotas, IAM, 'Role trust policy length'); once this account's quota "
        "is raised, set trust_policy_size_quota to the new value, or shorten the trust policy" % COUNTED]


@pytest.mark.parametrize("quota,length,ok", [(3000, 3000, True), (3000, 3001, False), (4096, 4096, True)])
def test_trust_against_a_raised_quota(quota, length, ok):
    errors = errors_of(assume_role_policy_document=json.dumps(trust(length)), trust_policy_size_quota=quota)
    if ok:
        assert errors == []
    else:
        assert errors == [
            "assume_role_policy_document is 3,001 characters long %s: trust_policy_size_quota=3000 allows at most "
            "3,000; shorten the trust policy, or raise the account's quota (up to 4,096; Service Quotas, IAM, "
            "'Role trust policy length') and trust_policy_size_quota with it" % COUNTED]


def test_trust_over_the_highest_quota_is_refused_by_parse():
    errors = errors_of(assume_role_policy_document=json.dumps(trust(4097)), trust_policy_size_quota=4096)
    assert errors == ["assume_role_policy_document is 4,097 characters long %s: IAM allows a trust policy 2,048 "
                      "characters by default and 4,096 at most where the quota has been raised; shorten the trust "
                      "policy" % COUNTED]


def test_trust_made_from_trusted_services_is_measured_too():
    services = ["service%03d.amazonaws.com" % i for i in range(90)]
    errors = errors_of(trusted_services=services)
    assert len(errors) == 1 and errors[0].startswith("trusted_services (the trust policy it makes) is ")
    assert "IAM's trust policy quota is 2,048 by default" in errors[0]


@pytest.mark.parametrize("quota", [0, 1024, 2047, 4097, 10240])
def test_trust_policy_size_quota_range(quota):
    assert errors_of(trust_policy_size_quota=quota) == [
        "trust_policy_size_quota=%d is out of range: IAM's trust policy quota is 2048 by default and can be raised to "
        "at most 4096 (Service Quotas, IAM, 'Role trust policy length'); give the account's quota, 2048 to 4096"
        % quota]


# ---- documents checked for their kind -------------------------------------------------------------------

@pytest.mark.parametrize("kw,fragment", [
    ({"inline_policies": {"P": {"Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]}}},
     "inline_policies.P: Statement[0] has Action=[]"),
    ({"inline_policies": {"P": {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": None}]}}},
     "inline_policies.P: Statement[0] has Resource=null"),
    ({"inline_policies": {"P": {"Statement": [{"Sid": "Trust", "Effect": "Allow", "Action": "s3:GetObject",
                                               "Resource": "*", "Principal": {"Service": "ec2.amazonaws.com"}}]}}},
     "inline_policies.P: Statement[0] (Sid 'Trust') has Principal: a permissions policy"),
    ({"assume_role_policy_document": {"Statement": [{"Effect": "Allow", "Principal": {},
                                                     "Action": "sts:AssumeRole"}]}},
     "assume_role_policy_document: Statement[0] has Principal={}"),
    ({"assume_role_policy_document": {"Statement": [{"Effect": None, "Principal": {"Service": "ec2.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}},
     "assume_role_policy_document: Statement[0] has Effect=null"),
    ({"assume_role_policy_document": {"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                     "Action": "sts:AssumeRole", "Resource": "*"}]}},
     "assume_role_policy_document: Statement[0] has Resource: a trust policy"),
])
def test_documents_are_checked_for_their_kind(kw, fragment):
    assert any(e.startswith(fragment) for e in errors_of(**kw)), errors_of(**kw)
