# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Optional AWS-side validation of policy documents with IAM Access Analyzer's ValidatePolicy (a read).

Contract: validate_documents(client, documents, allow_admin) -> (refusals, findings)
- documents: [(label, kind, document)], label as the option names it (e.g. "inline_policies.AppAccess"),
  kind "identity" (a permissions policy) or "trust" (a role trust policy).
- refusals: one message per ERROR finding, and per SECURITY_WARNING finding unless allow_admin (the user has
  accepted administrator-level grants explicitly; the finding is then returned instead); the caller fails
  with them before any change.
- findings: every finding not refused, as {policy, finding_type, issue_code, details, learn_more_link,
  location}, for the module's result.

AWS facts (botocore's accessanalyzer model): ValidatePolicy takes policyDocument (JSON text) and policyType
IDENTITY_POLICY | RESOURCE_POLICY | SERVICE_CONTROL_POLICY | RESOURCE_CONTROL_POLICY; a role trust policy is a
RESOURCE_POLICY with validatePolicyResourceType AWS::IAM::AssumeRolePolicyDocument. The findings are paginated
(nextToken; botocore's validate_policy paginator, result key findings); each has findingType ERROR |
SECURITY_WARNING | WARNING | SUGGESTION, issueCode, findingDetails, learnMoreLink and locations (a path of
{value | index | key | substring} elements and a span). The call changes nothing (so it runs in check mode too)
and needs access-analyzer:ValidatePolicy. The local moto endpoint does not implement Access Analyzer.
"""

from __future__ import annotations

import json

from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import paginate

POLICY_TYPES = {"identity": ("IDENTITY_POLICY", None),
                "trust": ("RESOURCE_POLICY", "AWS::IAM::AssumeRolePolicyDocument")}


def _location(locations):
    """Access Analyzer's first location as text: Statement[0].Resource[1]."""
    for location in locations or []:
        text = ""
        for element in location.get("path") or []:
            if "index" in element:
                text += "[%d]" % element["index"]
            elif "value" in element or "key" in element:
                text += ("." if text else "") + str(element.get("value", element.get("key")))
            elif "substring" in element:
                text += "(%s)" % element["substring"]
        if text:
            return text
    return None


def _findings(client, label, kind, document):
    policy_type, resource_type = POLICY_TYPES[kind]
    params = {"policyDocument": json.dumps(document), "policyType": policy_type}
    if resource_type:
        params["validatePolicyResourceType"] = resource_type
    return paginate(client, "ValidatePolicy", "findings", params, resource=label)


def validate_documents(client, documents, allow_admin=False):
    """(refusals, findings): see the module docstring."""
    refusals, findings = [], []
    for label, kind, document in documents:
        for raw in _findings(client, label, kind, document):
            finding = {"policy": label, "finding_type": raw.get("findingType"), "issue_code": raw.get("issueCode"),
                       "details": raw.get("findingDetails"), "learn_more_link": raw.get("learnMoreLink"),
                       "location": _location(raw.get("locations"))}
            kind_of = finding["finding_type"]
            if kind_of == "ERROR" or (kind_of == "SECURITY_WARNING" and not allow_admin):
                refusals.append("%s: IAM Access Analyzer reports %s %s at %s: %s (%s); fix the document%s"
                                % (label, kind_of, finding["issue_code"], finding["location"] or "the document",
                                   finding["details"], finding["learn_more_link"],
                                   ", or set allow_admin: true to accept it" if kind_of == "SECURITY_WARNING" else ""))
            else:
                findings.append(finding)
    return refusals, findings
