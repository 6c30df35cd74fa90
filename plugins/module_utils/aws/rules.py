# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The input rules of AWS names and ids, in one place: modules, the inventory plugin, aws/arns.py and iam/ all
check their input with these. Pure; no I/O. Private to the collection: no stable API.

AWS facts relied on:
- Region names: partition prefix, one or more words, a number (us-east-1, us-gov-west-1, cn-north-1,
  ap-southeast-5, eusc-de-east-1); botocore takes any host label, so a typo would only fail at the first call.
- Account ids: 12 digits. IAM names (roles, profiles, policies): letters, digits and + = , . @ _ - (roles 1-64,
  profiles and policies 1-128); paths "/" or "/segment/.../", printable ASCII, at most 512.
- IAM: policy names 1-128 (an inline policy name may carry a path-like prefix in a request); service principals
  are DNS names under amazonaws.com (amazonaws.com.cn in China); role descriptions are 0-1000 of tab, newline,
  carriage return and the printable Latin-1 range; a PathPrefix is "/" followed by up to 511 printable ASCII.
- EC2: instance ids i- and 8 or 17 hex digits; launch template ids lt- and 8 or 17 hex digits, names 3-128 of
  letters, digits and ( ) . - / _.
- Organizations: organization ids o- and 10-32 lower-case letters or digits; root ids r- and 4-32; OU ids
  ou-<4-32>-<8-32> (Organizations API reference, the Id patterns). Policy names 1-128 (CreatePolicy Name); the
  collection's guardrail names stay within 1-100 of letters, digits and _ . + = , @ - (a suffix is added to the
  declarative policy's). aws:PrincipalArn is the ARN of the IAM role (never an sts assumed-role ARN) for a role
  session, so an exemption names a role ARN, with * and ? wildcards in the account and the name (ArnLike).
- EKS: cluster and node group names 1-100 of letters, digits, - and _, starting with a letter or digit
  (CreateCluster / CreateNodegroup).
- STS AssumeRole: RoleSessionName 2 to 64 of letters, digits and _+=,.@-; ExternalId 2 to 1224 of letters, digits
  and _+=,.@:/- (STS API reference).
- IAM users: names 1-64 of letters, digits and + = , . @ _ - (CreateUser UserName). Access key ids: the API takes
  16-128 word characters (GetAccessKeyLastUsed AccessKeyId, pattern of word characters); the ids IAM issues are AKIA (a user's
  long-term key) or ASIA (STS temporary credentials) and 16 upper-case letters or digits (IAM User Guide, "IAM
  identifiers", unique ID prefixes; STS GetAccessKeyInfo). A masked id is the first 4 and last 4 characters around
  "...". IAM tags: keys 1-128 and values 0-256 of Unicode letters, digits, spaces and _ . : / = + - @ (IAM API
  reference, Tag).
"""

from __future__ import annotations

import re

REGION = re.compile(r"^[a-z]{2,4}(?:-[a-z]+)+-[0-9]{1,2}$")
ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
IAM_NAME = re.compile(r"^[\w+=,.@-]+$", re.ASCII)
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$", re.ASCII)
IAM_PATH = re.compile(r"^/(?:[\x21-\x7e]*/)?$")
GUARDRAIL_NAME = re.compile(r"^[A-Za-z0-9_.+=,@-]{1,100}$")
ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::([0-9]{12}|[0-9*?]{1,12}):role/[A-Za-z0-9_+=,.@/*?-]+$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$")
# a role or instance profile ARN with its path segments and the name's own length (roles 64, profiles 128)
ROLE_ARN_STRICT = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$", re.ASCII)
PROFILE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:instance-profile/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,128}$",
                         re.ASCII)
PROFILE_NAME = re.compile(r"^[\w+=,.@-]{1,128}$", re.ASCII)
POLICY_NAME = re.compile(r"^(/?[\x21-\x7e]+/)?[\w+=,.@-]{1,128}$", re.ASCII)
SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)*\.amazonaws\.com(\.cn)?$")
ROLE_DESCRIPTION = re.compile(r"^[\t\n\r\x20-\x7e\xa1-\xff]*$")
IAM_PATH_PREFIX = re.compile(r"^/[\x21-\x7e]{0,511}$")
INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")
LAUNCH_TEMPLATE_ID = re.compile(r"^lt-[0-9a-f]{8,17}$")
LAUNCH_TEMPLATE_NAME = re.compile(r"^[a-zA-Z0-9().\-/_]{3,128}$")
ORGANIZATION_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
ROOT_ID = re.compile(r"^r-[0-9a-z]{4,32}$")
OU_ID = re.compile(r"^ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}$")
EKS_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")
SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
USER_NAME = re.compile(r"^[\w+=,.@-]{1,64}$", re.ASCII)
ACCESS_KEY_ID = re.compile(r"^(?:AKIA|ASIA)[A-Z0-9]{16}$")
MASKED_ACCESS_KEY_ID = re.compile(r"^(?:AKIA|ASIA)\.\.\.[A-Z0-9]{4}$")
IAM_TAG_KEY = re.compile(r"^[\w\s.:/=+@-]{1,128}$")
IAM_TAG_VALUE = re.compile(r"^[\w\s.:/=+@-]{0,256}$")


def _matches(rule, value):
    return isinstance(value, str) and bool(rule.match(value))


def is_region(value):
    return _matches(REGION, value)


def is_account_id(value):
    return _matches(ACCOUNT_ID, value)


def is_role_name(value):
    return _matches(ROLE_NAME, value)


def is_iam_path(value):
    return isinstance(value, str) and len(value) <= 512 and bool(IAM_PATH.match(value))


def is_role_arn(value):
    return _matches(ROLE_ARN, value)


def is_guardrail_name(value):
    """The name organizations_guardrail gives its policies (1-100 of letters, digits and _ . + = , @ -)."""
    return _matches(GUARDRAIL_NAME, value)


def is_role_arn_pattern(value):
    """A role ARN as aws:PrincipalArn compares it (ArnLike): * and ? allowed in the account and the path/name."""
    return _matches(ROLE_ARN_PATTERN, value)


def is_session_name(value):
    return _matches(SESSION_NAME, value)


def is_external_id(value):
    return _matches(EXTERNAL_ID, value)


def is_role_arn_or_name(value):
    """A role ARN (path segments, a name of 1-64) or a bare role name (1-128 as IAM reads names in requests)."""
    return _matches(ROLE_ARN_STRICT, value) or (isinstance(value, str) and not value.startswith("arn:")
                                                and _matches(PROFILE_NAME, value))


def is_profile_arn_or_name(value):
    return _matches(PROFILE_ARN, value) or (isinstance(value, str) and not value.startswith("arn:")
                                            and _matches(PROFILE_NAME, value))


def is_policy_name(value):
    return _matches(POLICY_NAME, value)


def is_service_principal(value):
    return _matches(SERVICE_PRINCIPAL, value)


def is_role_description(value):
    return _matches(ROLE_DESCRIPTION, value)


def is_iam_path_prefix(value):
    return _matches(IAM_PATH_PREFIX, value)


def is_instance_id(value):
    return _matches(INSTANCE_ID, value)


def is_launch_template_id(value):
    return _matches(LAUNCH_TEMPLATE_ID, value)


def is_launch_template_name(value):
    return _matches(LAUNCH_TEMPLATE_NAME, value)


def is_organization_id(value):
    return _matches(ORGANIZATION_ID, value)


def is_organization_unit_or_root(value):
    return _matches(OU_ID, value) or _matches(ROOT_ID, value)


def is_eks_name(value):
    return _matches(EKS_NAME, value)


def is_user_name(value):
    return _matches(USER_NAME, value)


def is_access_key_id(value):
    return _matches(ACCESS_KEY_ID, value)


def is_masked_access_key_id(value):
    return _matches(MASKED_ACCESS_KEY_ID, value)


def is_iam_tag(key, value):
    """An IAM tag AWS accepts (TagUser, TagRole): key 1-128, value 0-256 of the allowed characters."""
    return _matches(IAM_TAG_KEY, key) and _matches(IAM_TAG_VALUE, value)
