# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An IAM user as the principal of iam_policy_from_activity: what the user's keys did becomes the policy of the role
that replaces them (issue 24, "Replace"). Private to the collection.

    user_policy_documents(iam, name) -> (GetUser's User or None, [policy])   the user's inline policies and the
        default version of each attached managed policy, in role_policy_documents' shape ({type, name, [arn],
        document}); the policies of the user's groups are not read
    user_event_matcher(user_arn, addresses=None) -> predicate(event)        pure: a call of the user (any of its keys,
        or a session it got with GetSessionToken), from one of `addresses` when given
    validate_addresses(values, option) -> [error]                            pure

AWS facts relied on: CloudTrail records a call made with an IAM user's credentials with userIdentity.type "IAMUser"
and userIdentity.arn the user's ARN (CloudTrail userIdentity element reference) - for its long-term keys (AKIA...)
and for the temporary credentials GetSessionToken gives it (ASIA...). GetUser(UserName) -> User {UserName, Arn};
ListUserPolicies / GetUserPolicy (the document URL-encoded JSON, decoded by botocore) / ListAttachedUserPolicies,
paginated; NoSuchEntity for a user that does not exist (IAM API reference).
"""

from __future__ import annotations

import ipaddress

from ansible_collections.keyless.aws.plugins.module_utils.accesskeys.usage import USER_IDENTITY
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import NOT_FOUND, call, paginate
from ansible_collections.keyless.aws.plugins.module_utils.iam.roles import managed_policy_document


def user_policy_documents(iam, name):
    answer = call(iam, "GetUser", {"UserName": name}, resource=name, missing=NOT_FOUND)
    if answer is None:
        return None, []
    policies = []
    for policy_name in sorted(paginate(iam, "ListUserPolicies", "PolicyNames", {"UserName": name}, resource=name)):
        doc = call(iam, "GetUserPolicy", {"UserName": name, "PolicyName": policy_name}, resource="%s/%s" % (name, policy_name))
        policies.append({"type": "inline", "name": policy_name, "document": doc["PolicyDocument"]})
    for item in sorted(paginate(iam, "ListAttachedUserPolicies", "AttachedPolicies", {"UserName": name}, resource=name),
                       key=lambda p: p["PolicyArn"]):
        managed = managed_policy_document(iam, item["PolicyArn"])
        if managed is not None:  # detached and deleted between the two reads
            policies.append(managed)
    return answer["User"], policies


def validate_addresses(values, option):
    errors = []
    for value in values or ():
        try:
            ipaddress.ip_address(str(value))
        except ValueError:
            errors.append("%s: %r is not an IP address (IPv4 such as 10.0.1.5, or IPv6)" % (option, value))
    return errors


def user_event_matcher(user_arn, addresses=None):
    # None: every address; an empty list matches no call (never "no filter")
    wanted = {str(ipaddress.ip_address(a)) for a in addresses} if addresses is not None else None

    def match(event):
        identity = event.get("userIdentity") if isinstance(event, dict) else None
        if not isinstance(identity, dict) or identity.get("type") != USER_IDENTITY or identity.get("arn") != user_arn:
            return False
        if wanted is None:
            return True
        try:
            return str(ipaddress.ip_address(str(event.get("sourceIPAddress") or ""))) in wanted
        except ValueError:  # a service's DNS name, not an address
            return False
    return match
