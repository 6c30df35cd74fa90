"""Policy documents: parse errors, semantic equality (a table of equal and unequal pairs), lint."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.iam.documents import (
    INLINE_POLICIES_MAX_CHARS, MAX_DEPTH, TRUST_POLICY_MAX_QUOTA, PolicyError, normalize_policy, parse_policy,
    policies_equal, policy_length, trust_policy_for_services,
)
from ansible_collections.keyless.aws.plugins.module_utils.iam.lint import ADMIN_MANAGED_POLICIES, is_admin_managed_policy, lint_policy

V = "2012-10-17"


def doc(*statements, version=V):
    out = {"Statement": list(statements)}
    if version:
        out["Version"] = version
    return out


def allow(action, resource="*", **extra):
    stmt = {"Effect": "Allow", "Action": action, "Resource": resource}
    stmt.update(extra)
    return stmt


def trust(principal, **extra):
    stmt = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    stmt.update(extra)
    return stmt


S3 = allow("s3:GetObject", "arn:aws:s3:::b/*")
SQS = allow("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:q")

EQUAL = [
    ("identical", doc(S3), doc(S3)),
    ("statement order", doc(S3, SQS), doc(SQS, S3)),
    ("single statement mapping vs list", {"Version": V, "Statement": S3}, doc(S3)),
    ("action string vs one-item list", doc(allow("s3:GetObject")), doc(allow(["s3:GetObject"]))),
    ("notaction string vs list",
     doc({"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"}),
     doc({"Effect": "Deny", "NotAction": ["s3:*"], "Resource": "*"})),
    ("resource string vs list", doc(allow("s3:GetObject", "arn:aws:s3:::b")), doc(allow("s3:GetObject", ["arn:aws:s3:::b"]))),
    ("notresource string vs list",
     doc({"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::b"}),
     doc({"Effect": "Deny", "Action": "s3:*", "NotResource": ["arn:aws:s3:::b"]})),
    ("action order", doc(allow(["s3:GetObject", "s3:PutObject"])), doc(allow(["s3:PutObject", "s3:GetObject"]))),
    ("resource order", doc(allow("s3:ListBucket", ["arn:aws:s3:::a", "arn:aws:s3:::b"])),
     doc(allow("s3:ListBucket", ["arn:aws:s3:::b", "arn:aws:s3:::a"]))),
    ("action case", doc(allow("s3:GetObject")), doc(allow("S3:getobject"))),
    ("duplicate actions", doc(allow(["s3:GetObject", "s3:GetObject"])), doc(allow("s3:GetObject"))),
    ("duplicate statements", doc(S3, S3), doc(S3)),
    ("principal star vs AWS star", doc(trust("*")), doc(trust({"AWS": "*"}))),
    ("principal AWS star list", doc(trust({"AWS": ["*"]})), doc(trust("*"))),
    ("service string vs list", doc(trust({"Service": "ec2.amazonaws.com"})), doc(trust({"Service": ["ec2.amazonaws.com"]}))),
    ("service order", doc(trust({"Service": ["ec2.amazonaws.com", "ecs-tasks.amazonaws.com"]})),
     doc(trust({"Service": ["ecs-tasks.amazonaws.com", "ec2.amazonaws.com"]}))),
    ("account id vs root arn (aws)", doc(trust({"AWS": "123456789012"})), doc(trust({"AWS": "arn:aws:iam::123456789012:root"}))),
    ("account id vs root arn (aws-cn)",
     doc(trust({"AWS": "123456789012"}), allow("s3:GetObject", "arn:aws-cn:s3:::b")),
     doc(trust({"AWS": "arn:aws-cn:iam::123456789012:root"}), allow("s3:GetObject", "arn:aws-cn:s3:::b"))),
    ("account id vs root arn (aws-us-gov)", doc(trust({"AWS": ["123456789012"]})),
     doc(trust({"AWS": "arn:aws-us-gov:iam::123456789012:root"}))),
    ("account id vs root arn (aws-iso)", doc(trust({"AWS": "123456789012"})), doc(trust({"AWS": ["arn:aws-iso:iam::123456789012:root"]}))),
    ("account id vs root arn (aws-iso-b)", doc(trust({"AWS": "123456789012"})), doc(trust({"AWS": "arn:aws-iso-b:iam::123456789012:root"}))),
    ("condition value string vs list",
     doc(trust("*", Condition={"StringEquals": {"sts:ExternalId": "x"}})),
     doc(trust("*", Condition={"StringEquals": {"sts:ExternalId": ["x"]}}))),
    ("condition value order",
     doc(allow("s3:GetObject", Condition={"StringEquals": {"aws:PrincipalTag/team": ["a", "b"]}})),
     doc(allow("s3:GetObject", Condition={"StringEquals": {"aws:PrincipalTag/team": ["b", "a"]}}))),
    ("condition key case",
     doc(allow("s3:GetObject", Condition={"Bool": {"aws:SecureTransport": "true"}})),
     doc(allow("s3:GetObject", Condition={"Bool": {"aws:securetransport": "true"}}))),
    ("condition bool vs text",
     doc(allow("s3:GetObject", Condition={"Bool": {"aws:SecureTransport": True}})),
     doc(allow("s3:GetObject", Condition={"Bool": {"aws:SecureTransport": "true"}}))),
    ("condition number vs text",
     doc(allow("s3:GetObject", Condition={"NumericLessThan": {"s3:max-keys": 10}})),
     doc(allow("s3:GetObject", Condition={"NumericLessThan": {"s3:max-keys": "10"}}))),
    ("missing version without variables", doc(S3, version=None), doc(S3)),
    ("2008 vs 2012 without variables", doc(S3, version="2008-10-17"), doc(S3)),
    ("empty sid vs none", doc(dict(S3, Sid="")), doc(S3)),
    ("json text vs dict", json.dumps(doc(S3, SQS)), doc(SQS, S3)),
    ("url-encoded text vs dict", quote(json.dumps(doc(S3))), doc(S3)),
    ("trust_policy_for_services", trust_policy_for_services(["ec2.amazonaws.com"]),
     doc(trust({"Service": ["ec2.amazonaws.com"]}))),
]

UNEQUAL = [
    ("different action", doc(allow("s3:GetObject")), doc(allow("s3:PutObject"))),
    ("extra action", doc(allow("s3:GetObject")), doc(allow(["s3:GetObject", "s3:PutObject"]))),
    ("resource case (ARNs are case-sensitive)", doc(allow("s3:GetObject", "arn:aws:s3:::B")),
     doc(allow("s3:GetObject", "arn:aws:s3:::b"))),
    ("different resource", doc(allow("s3:GetObject", "arn:aws:s3:::a")), doc(allow("s3:GetObject", "arn:aws:s3:::b"))),
    ("effect", doc(allow("s3:GetObject")), doc(dict(allow("s3:GetObject"), Effect="Deny"))),
    ("action vs notaction", doc(allow("s3:GetObject")),
     doc({"Effect": "Allow", "NotAction": "s3:GetObject", "Resource": "*"})),
    ("resource vs notresource", doc(allow("s3:GetObject", "arn:aws:s3:::b")),
     doc({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::b"})),
    ("extra statement", doc(S3), doc(S3, SQS)),
    ("sid added", doc(S3), doc(dict(S3, Sid="Read"))),
    ("sid renamed", doc(dict(S3, Sid="A")), doc(dict(S3, Sid="B"))),
    ("root arn across partitions", doc(trust({"AWS": "arn:aws:iam::123456789012:root"})),
     doc(trust({"AWS": "arn:aws-cn:iam::123456789012:root"}))),
    ("different account", doc(trust({"AWS": "123456789012"})), doc(trust({"AWS": "arn:aws:iam::210987654321:root"}))),
    ("service principal", doc(trust({"Service": "ec2.amazonaws.com"})), doc(trust({"Service": "lambda.amazonaws.com"}))),
    ("star vs account", doc(trust("*")), doc(trust({"AWS": "123456789012"}))),
    ("condition added", doc(trust("*")), doc(trust("*", Condition={"StringEquals": {"sts:ExternalId": "x"}}))),
    ("condition value case", doc(trust("*", Condition={"StringEquals": {"sts:ExternalId": "X"}})),
     doc(trust("*", Condition={"StringEquals": {"sts:ExternalId": "x"}}))),
    ("condition operator", doc(trust("*", Condition={"StringEquals": {"sts:ExternalId": "x"}})),
     doc(trust("*", Condition={"StringLike": {"sts:ExternalId": "x"}}))),
    ("missing version with policy variables",
     doc(allow("s3:GetObject", "arn:aws:s3:::b/${aws:username}/*"), version=None),
     doc(allow("s3:GetObject", "arn:aws:s3:::b/${aws:username}/*"))),
    ("2008 vs 2012 with policy variables",
     doc(allow("s3:GetObject", "arn:aws:s3:::b/${aws:username}/*"), version="2008-10-17"),
     doc(allow("s3:GetObject", "arn:aws:s3:::b/${aws:username}/*"))),
    ("policy vs none", doc(S3), None),
]


@pytest.mark.parametrize("label,a,b", EQUAL, ids=[e[0] for e in EQUAL])
def test_equal_pairs(label, a, b):
    assert policies_equal(a, b), label
    assert policies_equal(b, a), label


@pytest.mark.parametrize("label,a,b", UNEQUAL, ids=[u[0] for u in UNEQUAL])
def test_unequal_pairs(label, a, b):
    assert not policies_equal(a, b), label
    assert not policies_equal(b, a), label


def test_table_sizes():
    assert len(EQUAL) >= 25 and len(UNEQUAL) >= 15


def test_missing_version_with_variables_is_equal_to_2008():
    a = doc(allow("s3:GetObject", "arn:aws:s3:::b/${aws:username}/*"), version=None)
    b = doc(allow("s3:GetObject", "arn:aws:s3:::b/${aws:username}/*"), version="2008-10-17")
    assert policies_equal(a, b)


def test_none_equals_none():
    assert policies_equal(None, None)


def test_normalize_is_canonical_and_does_not_mutate():
    original = doc(allow(["s3:PutObject", "S3:GetObject"], "arn:aws:s3:::b"))
    snapshot = json.loads(json.dumps(original))
    norm = normalize_policy(original)
    assert original == snapshot
    assert norm["Statement"][0]["Action"] == ["s3:getobject", "s3:putobject"]
    assert norm["Statement"][0]["Resource"] == ["arn:aws:s3:::b"]
    assert normalize_policy(norm) == norm


def test_normalize_explicit_partition():
    norm = normalize_policy(doc(trust({"AWS": "123456789012"})), partition="aws-cn")
    assert norm["Statement"][0]["Principal"] == {"AWS": ["arn:aws-cn:iam::123456789012:root"]}


# ---- parse errors -------------------------------------------------------------------------------

@pytest.mark.parametrize("value,fragment", [
    ('{"Version": "2012-10-17", "Statement": [', "not valid JSON"),
    ("not json at all", "not valid JSON"),
    ('["a"]', "must be a JSON object"),
    ({"Version": V}, "has no Statement"),
    ({"Version": V, "Statement": []}, "non-empty list"),
    ({"Version": "2020-01-01", "Statement": [S3]}, "Version"),
    ({"Statement": [{"Effect": "Permit", "Action": "s3:*", "Resource": "*"}]}, "Effect"),
    ({"Statement": [{"Effect": "Allow", "Resource": "*"}]}, "neither Action nor NotAction"),
    ({"Statement": [{"Effect": "Allow", "Action": "a:b", "NotAction": "c:d"}]}, "both Action and NotAction"),
    ({"Statement": ["s3:GetObject"]}, "not a mapping"),
])
def test_parse_errors_name_the_option(value, fragment):
    with pytest.raises(PolicyError) as err:
        parse_policy(value, "inline_policies.AppAccess")
    assert "inline_policies.AppAccess" in str(err.value)
    assert fragment in str(err.value)


def test_policy_error_is_value_error():
    assert issubclass(PolicyError, ValueError)


def test_parse_accepts_text_dict_and_url_encoded():
    d = doc(S3)
    assert parse_policy(json.dumps(d), "x") == d
    assert parse_policy(quote(json.dumps(d)), "x") == d
    assert parse_policy(json.dumps(d).encode(), "x") == d
    copy = parse_policy(d, "x")
    assert copy == d and copy is not d


# ---- what IAM refuses (kind="permissions" / "trust"), before any call ---------------------------------

EC2 = {"Service": "ec2.amazonaws.com"}
OPT = "inline_policies.AppAccess"

# (label, kind, document, fragments the message must hold besides the option)
REFUSED = [
    ("empty Action", "permissions", doc(allow([])), ["Statement[0]", "has Action=[]", "IAM refuses an empty Action"]),
    ("null Action", "permissions", doc(allow(None)), ["Statement[0]", "has Action=null"]),
    ("empty string Action", "permissions", doc(allow("")), ["has Action=''"]),
    ("null item in Action", "permissions", doc(allow(["s3:GetObject", None])), ["has Action[1]=null"]),
    ("Action without service", "permissions", doc(allow("s3GetObject")),
     ["has Action='s3GetObject'", '"service:ActionName"']),
    ("Action with two colons", "permissions", doc(allow("s3:Get:Object")), ["has Action='s3:Get:Object'"]),
    ("Action a mapping", "permissions", doc(allow({"s3": "GetObject"})), ["give a string or a list of strings"]),
    ("empty NotAction", "permissions", doc({"Effect": "Deny", "NotAction": [], "Resource": "*"}),
     ["has NotAction=[]"]),
    ("null Resource", "permissions", doc(allow("s3:GetObject", None)), ["has Resource=null", "IAM refuses an empty Resource"]),
    ("empty Resource", "permissions", doc(allow("s3:GetObject", [])), ["has Resource=[]"]),
    ("empty item in Resource", "permissions", doc(allow("s3:GetObject", ["arn:aws:s3:::b", ""])), ["has Resource[1]=''"]),
    ("Resource not an ARN", "permissions", doc(allow("s3:GetObject", "my-bucket")),
     ["has Resource='my-bucket'", 'an ARN ("arn:...") or "*"']),
    ("null NotResource", "permissions", doc({"Effect": "Deny", "Action": "s3:*", "NotResource": None}),
     ["has NotResource=null"]),
    ("no Resource in a permissions policy", "permissions", doc({"Effect": "Allow", "Action": "s3:GetObject"}),
     ["has neither Resource nor NotResource"]),
    ("Principal in a permissions policy", "permissions", doc(allow("s3:GetObject", "*", Principal=EC2)),
     ["has Principal: a permissions policy", "names no principal"]),
    ("null Effect", "permissions", doc(allow("s3:GetObject", "*", Effect=None)), ["has Effect=null", '"Allow" or "Deny"']),
    ("unknown element", "permissions", doc(allow("s3:GetObject", "*", Resources="*")),
     ["has 'Resources': a statement's elements are Sid, Effect"]),
    ("Sid with a dash", "permissions", doc(allow("s3:GetObject", "*", Sid="Read-Only")),
     ["Statement[0] (Sid 'Read-Only') has Sid='Read-Only'", "letters and digits"]),
    ("null Sid", "permissions", doc(allow("s3:GetObject", "*", Sid=None)), ["has Sid=null"]),
    ("duplicate Sid", "permissions", doc(allow("s3:GetObject", "*", Sid="A"), allow("s3:PutObject", "*", Sid="A")),
     ["Statement[1] (Sid 'A') has Sid 'A' a second time"]),
    ("null Condition", "permissions", doc(allow("s3:GetObject", "*", Condition=None)), ["has Condition=null"]),
    ("Condition operator not a mapping", "permissions",
     doc(allow("s3:GetObject", "*", Condition={"Bool": "true"})), ["has Condition.Bool='true'"]),
    ("empty Principal", "trust", doc(trust({})), ["has Principal={}"]),
    ("null Principal", "trust", doc(trust(None)), ["has Principal=null"]),
    ("Principal a plain string", "trust", doc(trust("ec2.amazonaws.com")), ["has Principal='ec2.amazonaws.com'"]),
    ("null service principal", "trust", doc(trust({"Service": None})), ["has Principal.Service=null"]),
    ("empty AWS principal list", "trust", doc(trust({"AWS": []})), ["has Principal.AWS=[]"]),
    ("unknown principal type", "trust", doc(trust({"Services": "ec2.amazonaws.com"})),
     ["has Principal type 'Services'", "AWS, Service, Federated, CanonicalUser"]),
    ("empty NotPrincipal", "trust",
     doc({"Effect": "Deny", "NotPrincipal": {}, "Action": "sts:AssumeRole"}), ["has NotPrincipal={}"]),
    ("no Principal in a trust policy", "trust", doc({"Effect": "Allow", "Action": "sts:AssumeRole"}),
     ["has no Principal: a trust policy names who may assume the role"]),
    ("Resource in a trust policy", "trust", doc(trust(EC2, Resource="*")),
     ["has Resource: a trust policy", "has no Resource"]),
    ("non-sts action in a trust policy", "trust", doc(trust(EC2, Action=["sts:AssumeRole", "s3:GetObject"])),
     ["has Action s3:GetObject: a trust policy grants only sts: actions"]),
    ("empty Action in a trust policy", "trust", doc(trust(EC2, Action=[])), ["has Action=[]"]),
]


@pytest.mark.parametrize("label,kind,value,fragments", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_documents_name_option_statement_and_what_is_allowed(label, kind, value, fragments):
    with pytest.raises(PolicyError) as err:
        parse_policy(value, OPT, kind)
    message = str(err.value)
    assert message.startswith(OPT), message
    for fragment in fragments:
        assert fragment in message, (label, message)
    with pytest.raises(PolicyError):  # the same as JSON text
        parse_policy(json.dumps(value), OPT, kind)


def test_every_problem_of_a_document_is_reported_at_once():
    value = doc(dict(allow([], None), Sid="A", Effect=None), allow("s3:GetObject", "bucket"))
    message = str(pytest.raises(PolicyError, parse_policy, value, OPT, "permissions").value)
    assert "Statement[0] (Sid 'A') has Effect=null" in message
    assert "Statement[0] (Sid 'A') has Action=[]" in message
    assert "Statement[0] (Sid 'A') has Resource=null" in message
    assert "Statement[1] has Resource='bucket'" in message


ACCEPTED = [
    ("documented inline policy", "permissions", doc(S3, SQS)),
    ("single statement mapping", "permissions", {"Version": V, "Statement": S3}),
    ("wildcards", "permissions", doc(allow(["s3:Get*", "ec2:Describe*", "*:*", "*"], "*"))),
    ("NotAction and NotResource", "permissions", doc({"Effect": "Deny", "NotAction": "s3:*", "NotResource": "arn:aws:s3:::b"})),
    ("policy variable", "permissions", doc(allow("s3:GetObject", "arn:aws:s3:::b/${aws:username}/*"))),
    ("condition at IAM's full depth", "permissions", doc(allow("s3:GetObject", "*", Sid="Org1", Condition={
        "ForAnyValue:StringLike": {"aws:PrincipalTag/team": ["a", "b"]}, "Bool": {"aws:SecureTransport": True}}))),
    ("empty Sid", "permissions", doc(allow("s3:GetObject", "*", Sid=""))),
    ("service trust", "trust", trust_policy_for_services(["ec2.amazonaws.com", "ssm.amazonaws.com"])),
    ("account trust with external id", "trust",
     doc(trust({"AWS": ["123456789012", "arn:aws:iam::210987654321:role/x"]},
               Condition={"StringEquals": {"sts:ExternalId": "e"}}))),
    ("web identity trust", "trust", doc(trust({"Federated": "arn:aws:iam::123456789012:oidc-provider/x"},
                                              Action=["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]))),
    ("principal star", "trust", doc(trust("*", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}))),
    ("NotPrincipal", "trust", doc({"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:root"},
                                   "Action": "sts:AssumeRole"})),
]


@pytest.mark.parametrize("label,kind,value", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepted_documents(label, kind, value):
    assert parse_policy(value, OPT, kind) == value
    assert parse_policy(json.dumps(value, indent=4), OPT, kind) == value


def test_kind_is_checked():
    with pytest.raises(ValueError):
        parse_policy(doc(S3), OPT, "resource")


def test_documents_iam_returns_are_read_leniently():
    """kind=None: what IAM holds is reported, never refused for the rules above or for size (AWS-managed
    policies such as ReadOnlyAccess are far larger than any customer quota)."""
    huge = doc(allow(["svc%d:Get*" % i for i in range(3000)], "*"))
    assert policy_length(huge) > INLINE_POLICIES_MAX_CHARS
    assert parse_policy(huge, "policy") == huge
    assert parse_policy(json.dumps(huge), "policy") == huge
    odd = doc(allow("s3:GetObject", "*", Sid="Read-Only", Principal=EC2))
    assert parse_policy(odd, "policy") == odd


# ---- size as IAM counts it, depth, huge input ---------------------------------------------------------

def sized(length, kind="permissions"):
    """A valid document whose policy_length is exactly `length`."""
    base = doc(allow("s3:GetObject", "arn:aws:s3:::b/")) if kind == "permissions" else doc(
        trust({"AWS": "arn:aws:iam::123456789012:role/"}))
    pad = length - policy_length(base)
    if kind == "permissions":
        return doc(allow("s3:GetObject", "arn:aws:s3:::b/" + "x" * pad))
    return doc(trust({"AWS": "arn:aws:iam::123456789012:role/" + "x" * pad}))


@pytest.mark.parametrize("text,expected", [
    ('{"a": [1, 2]}', '{"a":[1,2]}'),
    ('{\n    "a" :\t[ 1 ,\r\n 2 ]\n}', '{"a":[1,2]}'),
    ('{"a b": "c  d"}', '{"a b":"c  d"}'),  # whitespace inside strings counts
])
def test_policy_length_counts_like_iam(text, expected):
    assert policy_length(json.loads(text)) == len(expected)


def test_policy_length_is_the_compact_text_sent():
    d = doc(S3, SQS)
    assert policy_length(d) == len(json.dumps(d, sort_keys=True).replace(", ", ",").replace(": ", ":"))


@pytest.mark.parametrize("kind,limit", [("permissions", INLINE_POLICIES_MAX_CHARS), ("trust", TRUST_POLICY_MAX_QUOTA)])
def test_the_largest_document_of_a_kind_passes_and_one_more_character_is_refused(kind, limit):
    assert policy_length(sized(limit, kind)) == limit
    assert parse_policy(sized(limit, kind), OPT, kind)
    assert parse_policy(json.dumps(sized(limit, kind), indent=8), OPT, kind)  # whitespace outside strings is free
    for value in (sized(limit + 1, kind), json.dumps(sized(limit + 1, kind))):
        message = str(pytest.raises(PolicyError, parse_policy, value, OPT, kind).value)
        assert message.startswith(OPT + " is ") and "as IAM counts them" in message, message
        assert ("10,240" if kind == "permissions" else "4,096") in message


def test_url_encoded_text_is_measured_decoded():
    value = doc(allow(["s3:Get%d" % i for i in range(600)], "*"))
    encoded = quote(json.dumps(value))
    assert policy_length(value) < INLINE_POLICIES_MAX_CHARS < len(encoded)
    assert parse_policy(encoded, OPT, "permissions") == value


def test_size_message_gives_the_count_for_a_mapping():
    message = str(pytest.raises(PolicyError, parse_policy, sized(12000), OPT, "permissions").value)
    assert "is 12,000 characters long as IAM counts them" in message
    assert "IAM allows 10,240 for all inline policies of a role together and 6,144 for a managed policy" in message


def test_huge_text_is_refused_quickly_by_name():
    value = json.dumps({"Statement": [allow("s3:GetObject", "arn:aws:s3:::b/%d" % i) for i in range(200000)]})
    assert len(value) > 10_000_000
    message = str(pytest.raises(PolicyError, parse_policy, value, OPT, "permissions").value)
    assert message.startswith(OPT + " is more than 40,960 characters long as IAM counts them")  # 4x: not parsed


def test_huge_mapping_is_refused_by_name():
    value = {"Statement": [allow("s3:GetObject", "arn:aws:s3:::b/%d" % i) for i in range(200000)]}
    message = str(pytest.raises(PolicyError, parse_policy, value, OPT, "permissions").value)
    assert message.startswith(OPT + " is more than 10,240 characters long")


def nested_text(levels):
    return '{"Version": "2012-10-17", "Statement": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"


def nested_mapping(levels):
    root = node = {}
    for dummy in range(levels - 1):
        node["x"] = {}
        node = node["x"]
    return root


@pytest.mark.parametrize("value", [nested_text(100000), nested_mapping(100000), "[" * 5000 + "]" * 5000,
                                   nested_text(MAX_DEPTH + 1), nested_mapping(MAX_DEPTH + 1),
                                   quote(nested_text(100000))])
@pytest.mark.parametrize("kind", [None, "permissions", "trust"])
def test_deep_json_is_refused_by_name_without_recursion_error(value, kind):
    with pytest.raises(PolicyError) as err:
        parse_policy(value, OPT, kind)
    assert str(err.value) == ("%s is nested more than 6 levels deep: an IAM policy nests at most 6 (document > "
                              "Statement list > statement > Condition > operator > value list); IAM refuses deeper "
                              "documents" % OPT)


def test_iam_depth_is_accepted():
    deepest = doc(allow("s3:GetObject", "*", Condition={"StringLike": {"s3:prefix": ["a/*", "b/*"]}}))
    assert parse_policy(json.dumps(deepest), OPT, "permissions") == deepest
    assert parse_policy(deepest, OPT, "permissions") == deepest


# ---- helpers ------------------------------------------------------------------------------------

def test_trust_policy_for_services():
    one = trust_policy_for_services(["ec2.amazonaws.com"])
    assert one == {"Version": V, "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}
    two = trust_policy_for_services(["ec2.amazonaws.com", "ssm.amazonaws.com"])
    assert two["Statement"][0]["Principal"]["Service"] == ["ec2.amazonaws.com", "ssm.amazonaws.com"]
    assert lint_policy(two, "trust") == []


@pytest.mark.parametrize("value,expected", [
    ("AdministratorAccess", True),
    ("PowerUserAccess", True),
    ("IAMFullAccess", True),
    ("arn:aws:iam::aws:policy/AdministratorAccess", True),
    ("arn:aws-cn:iam::aws:policy/PowerUserAccess", True),
    ("arn:aws-us-gov:iam::aws:policy/IAMFullAccess", True),
    ("CloudWatchAgentServerPolicy", False),
    ("arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy", False),
    ("arn:aws:iam::aws:policy/job-function/ViewOnlyAccess", False),
    ("arn:aws:iam::123456789012:policy/AdministratorAccess", False),
    ("administratoraccess", False),
    ("", False),
])
def test_is_admin_managed_policy(value, expected):
    assert is_admin_managed_policy(value) is expected


def test_admin_managed_policies():
    assert ADMIN_MANAGED_POLICIES == {"AdministratorAccess", "PowerUserAccess", "IAMFullAccess"}
