# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The catalogue of IAM privilege-escalation paths: which action, on which resource type, lets a principal
make itself (or a principal it controls) administrator. Data only; lint.py judges documents with it.

Each entry of CATALOGUE is one action that completes an escalation path by itself when it is granted on
every resource of its type (see lint.py for what "every resource of a type" means). The sources are
published research, cited per entry:

- RHINO: Rhino Security Labs, "AWS IAM Privilege Escalation - Methods and Mitigation" (Spencer Gietzen),
  https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/ - 21 methods, numbered.
- BISHOP_FOX: Bishop Fox, iam-vulnerable, https://github.com/BishopFox/iam-vulnerable - one Terraform file per
  path under modules/free-resources/privesc-paths/ (privesc1..privesc21 follow Rhino's numbering).
- CLOUDSPLAINING: Salesforce cloudsplaining, PRIVILEGE_ESCALATION_METHODS in cloudsplaining/shared/constants.py,
  https://github.com/salesforce/cloudsplaining - method names as given there.
- AWS_PASSROLE: AWS IAM User Guide, "Grant a user permissions to pass a role to an AWS service",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html - scope PassRole to named roles.
- AWS_MANAGED: AWS Managed Policy Reference, https://docs.aws.amazon.com/aws-managed-policy/latest/reference/
  (AdministratorAccess: every action; PowerUserAccess: every action but IAM/Organizations/Account
  management; IAMFullAccess: iam:* - each is, or directly leads to, administrator access).

Why one action suffices for the PassRole path: PassRole is the half that can only be scoped in IAM; the
other half (ec2:RunInstances, lambda:CreateFunction, ...) is ordinary for an instance and may come from
another policy of the same role, so PassRole on every role is refused wherever it appears.
"""

from __future__ import annotations

RHINO = "Rhino Security Labs method"
BISHOP_FOX = "Bishop Fox iam-vulnerable"
CLOUDSPLAINING = "cloudsplaining"
AWS_PASSROLE = "AWS IAM User Guide (passing a role to a service)"
AWS_MANAGED = "AWS Managed Policy Reference"

SOURCES = {
    RHINO: "https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/",
    BISHOP_FOX: "https://github.com/BishopFox/iam-vulnerable (modules/free-resources/privesc-paths/)",
    CLOUDSPLAINING: "https://github.com/salesforce/cloudsplaining (cloudsplaining/shared/constants.py, "
                    "PRIVILEGE_ESCALATION_METHODS)",
    AWS_PASSROLE: "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html",
    AWS_MANAGED: "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/",
}

# Resource types the catalogue's actions apply to: the ARN prefix every resource of the type starts with
# (after arn:<partition>:<service>:<region>:<account>:), how to name it in a message, and a scoped example.
RESOURCE_TYPES = {
    "role": {"service": "iam", "regional": False, "prefix": "role/", "noun": "role",
             "example": "arn:aws:iam::123456789012:role/app-worker"},
    "user": {"service": "iam", "regional": False, "prefix": "user/", "noun": "user",
             "example": "arn:aws:iam::123456789012:user/deploy-bot"},
    "group": {"service": "iam", "regional": False, "prefix": "group/", "noun": "group",
              "example": "arn:aws:iam::123456789012:group/app-operators"},
    "policy": {"service": "iam", "regional": False, "prefix": "policy/", "noun": "customer managed policy",
               "example": "arn:aws:iam::123456789012:policy/app/app-access"},
    "function": {"service": "lambda", "regional": True, "prefix": "function:", "noun": "Lambda function",
                 "example": "arn:aws:lambda:us-east-1:123456789012:function:app-resize"},
    "devendpoint": {"service": "glue", "regional": True, "prefix": "devEndpoint/", "noun": "Glue development endpoint",
                    "example": "arn:aws:glue:us-east-1:123456789012:devEndpoint/app-dev"},
}

# The paths: what the grant lets an attacker on the instance do, and how to scope it.
PATHS = {
    "policy version": "write a new default version of (or roll back to an older version of) a managed policy "
                      "attached to any principal, the instance's own role included, with any permissions",
    "user credentials": "create an access key or a console password for any user and act as that user",
    "managed policy attachment": "attach any managed policy (AdministratorAccess) to a role, user or group, "
                                 "the instance's own role included",
    "inline policy write": "put an inline policy granting anything on a role, user or group, the instance's "
                           "own role included",
    "group membership": "add a user it controls to any group, an administrators group included",
    "trust policy update": "rewrite any role's trust policy to let itself assume that role",
    "PassRole to a service that runs code": "pass any role, an administrator role included, to a service that "
                                            "runs code it supplies (ec2:RunInstances, lambda:CreateFunction, "
                                            "glue:CreateDevEndpoint, cloudformation:CreateStack, "
                                            "datapipeline:CreatePipeline, codebuild:CreateProject, "
                                            "sagemaker:CreateNotebookInstance, ecs:RunTask) and use that role",
    "role assumption": "assume any role whose trust policy trusts the account (or a role chain leading to "
                       "an administrator role)",
    "existing function code": "replace the code of any Lambda function and run it with the function's role",
    "existing Glue development endpoint": "add its SSH key to any Glue development endpoint and use the "
                                          "endpoint's role",
    "administrator managed policy": "the AWS managed policies AdministratorAccess, PowerUserAccess and "
                                    "IAMFullAccess grant administrator access or the IAM writes above",
}

# One row per escalation action: (action, resource type, path, sources as (source, reference) pairs).
CATALOGUE = (
    ("iam:CreatePolicyVersion", "policy", "policy version",
     ((RHINO, "1"), (BISHOP_FOX, "privesc1-CreateNewPolicyVersion"), (CLOUDSPLAINING, "CreateNewPolicyVersion"))),
    ("iam:SetDefaultPolicyVersion", "policy", "policy version",
     ((RHINO, "2"), (BISHOP_FOX, "privesc2-SetExistingDefaultPolicyVersion"),
      (CLOUDSPLAINING, "SetExistingDefaultPolicyVersion"))),
    ("iam:PassRole", "role", "PassRole to a service that runs code",
     ((RHINO, "3, 15, 16, 18, 20, 21"), (BISHOP_FOX, "privesc3-CreateEC2WithExistingIP, privesc15, privesc16, "
                                                     "privesc18, privesc20, privesc21, "
                                                     "privesc-codeBuildCreateProjectPassRole, "
                                                     "privesc-sageMakerCreateNotebookPassRole"),
      (CLOUDSPLAINING, "CreateEC2WithExistingIP, PassExistingRoleTo*"), (AWS_PASSROLE, "scope iam:PassRole"))),
    ("iam:CreateAccessKey", "user", "user credentials",
     ((RHINO, "4"), (BISHOP_FOX, "privesc4-CreateAccessKey"), (CLOUDSPLAINING, "CreateAccessKey"))),
    ("iam:CreateLoginProfile", "user", "user credentials",
     ((RHINO, "5"), (BISHOP_FOX, "privesc5-CreateLoginProfile"), (CLOUDSPLAINING, "CreateLoginProfile"))),
    ("iam:UpdateLoginProfile", "user", "user credentials",
     ((RHINO, "6"), (BISHOP_FOX, "privesc6-UpdateLoginProfile"), (CLOUDSPLAINING, "UpdateLoginProfile"))),
    ("iam:AttachUserPolicy", "user", "managed policy attachment",
     ((RHINO, "7"), (BISHOP_FOX, "privesc7-AttachUserPolicy"), (CLOUDSPLAINING, "AttachUserPolicy"))),
    ("iam:AttachGroupPolicy", "group", "managed policy attachment",
     ((RHINO, "8"), (BISHOP_FOX, "privesc8-AttachGroupPolicy"), (CLOUDSPLAINING, "AttachGroupPolicy"))),
    ("iam:AttachRolePolicy", "role", "managed policy attachment",
     ((RHINO, "9"), (BISHOP_FOX, "privesc9-AttachRolePolicy"), (CLOUDSPLAINING, "AttachRolePolicy"))),
    ("iam:PutUserPolicy", "user", "inline policy write",
     ((RHINO, "10"), (BISHOP_FOX, "privesc10-PutUserPolicy"), (CLOUDSPLAINING, "PutUserPolicy"))),
    ("iam:PutGroupPolicy", "group", "inline policy write",
     ((RHINO, "11"), (BISHOP_FOX, "privesc11-PutGroupPolicy"), (CLOUDSPLAINING, "PutGroupPolicy"))),
    ("iam:PutRolePolicy", "role", "inline policy write",
     ((RHINO, "12"), (BISHOP_FOX, "privesc12-PutRolePolicy"), (CLOUDSPLAINING, "PutRolePolicy"))),
    ("iam:AddUserToGroup", "group", "group membership",
     ((RHINO, "13"), (BISHOP_FOX, "privesc13-AddUserToGroup"), (CLOUDSPLAINING, "AddUserToGroup"))),
    ("iam:UpdateAssumeRolePolicy", "role", "trust policy update",
     ((RHINO, "14"), (BISHOP_FOX, "privesc14-UpdatingAssumeRolePolicy"), (CLOUDSPLAINING, "UpdateRolePolicyToAssumeIt"))),
    ("sts:AssumeRole", "role", "role assumption",
     ((BISHOP_FOX, "privesc-AssumeRole"), (CLOUDSPLAINING, "CreatePolicyVersionThenAssumeRole"))),
    ("lambda:UpdateFunctionCode", "function", "existing function code",
     ((RHINO, "17"), (BISHOP_FOX, "privesc17-EditExistingLambdaFunctionWithRole"),
      (CLOUDSPLAINING, "EditExistingLambdaFunctionWithRole"))),
    ("glue:UpdateDevEndpoint", "devendpoint", "existing Glue development endpoint",
     ((RHINO, "19"), (BISHOP_FOX, "privesc19-UpdateExistingGlueDevEndpoint"),
      (CLOUDSPLAINING, "UpdateExistingGlueDevEndpoint"))),
)

# Actions that change the permissions or the trust of the role they are granted on: granted on the role's
# own ARN they let the role make itself administrator, however narrowly the rest is scoped.
SELF_ESCALATION = frozenset(("iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy"))

# The AWS managed policies refused by name (AWS_MANAGED).
ADMIN_MANAGED_POLICIES = frozenset(("AdministratorAccess", "PowerUserAccess", "IAMFullAccess"))


def cite(rows):
    """A short citation for a message: Rhino's method numbers, or the Bishop Fox path where Rhino has none."""
    rhino, others = [], []
    for row in rows:
        refs = dict(row[3])
        if RHINO in refs:
            rhino.extend(n.strip() for n in refs[RHINO].split(",") if n.strip() not in rhino)
        elif BISHOP_FOX in refs and refs[BISHOP_FOX] not in others:
            others.append(refs[BISHOP_FOX])
    parts = []
    if rhino:
        numbers = sorted(set(rhino), key=int)
        parts.append("%s%s %s" % (RHINO, "s" if len(numbers) > 1 else "", ", ".join(numbers)))
    if others:
        parts.append("%s %s" % (BISHOP_FOX, ", ".join(others)))
    return "; ".join(parts)
