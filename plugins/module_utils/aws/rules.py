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
- STS AssumeRole: RoleSessionName 2 to 64 of letters, digits and _+=,.@-; ExternalId 2 to 1224 of letters, digits
  and _+=,.@:/- (STS API reference).
"""

from __future__ import annotations

import re

REGION = re.compile(r"^[a-z]{2,4}(?:-[a-z]+)+-[0-9]{1,2}$")
ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
IAM_NAME = re.compile(r"^[\w+=,.@-]+$", re.ASCII)
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$", re.ASCII)
IAM_PATH = re.compile(r"^/(?:[\x21-\x7e]*/)?$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$")
SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")


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


def is_session_name(value):
    return _matches(SESSION_NAME, value)


def is_external_id(value):
    return _matches(EXTERNAL_ID, value)
