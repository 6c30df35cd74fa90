"""The table of policy documents the least-privilege judgement refuses and accepts (iam/lint.py, trust_lint.py).

Shared by the lint unit tests (tests/unit/plugins/module_utils/iam/test_lint.py) and the iam_role module tests
(tests/unit/plugins/modules/test_iam_role.py), which run every case through the module: a refusal makes no AWS
call, allow_admin: true lifts it, an accepted document passes.

REFUSED: (case id, kind, document, fragments) - every fragment must appear in the refusal message.
ACCEPTED: (case id, kind, document).
kind is "permissions" (an inline policy of the role OWN_ROLE) or "trust" (its trust policy).
"""

from __future__ import annotations

OWN_ROLE = ("/", "AppInstanceRole")  # the role the permissions documents are judged for
ACCOUNT = "123456789012"
V = "2012-10-17"
GITHUB = "arn:aws:iam::%s:oidc-provider/token.actions.githubusercontent.com" % ACCOUNT
EKS = "arn:aws:iam::%s:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE" % ACCOUNT


def doc(*statements):
    return {"Version": V, "Statement": list(statements)}


def allow(action, resource="*", **extra):
    return dict({"Effect": "Allow", "Action": action, "Resource": resource}, **extra)


def deny(action, resource="*", **extra):
    return dict({"Effect": "Deny", "Action": action, "Resource": resource}, **extra)


def not_action(actions, resource="*"):
    return {"Effect": "Allow", "NotAction": actions, "Resource": resource}


def trust(principal, action="sts:AssumeRole", **extra):
    return dict({"Effect": "Allow", "Principal": principal, "Action": action}, **extra)


def web(provider, condition=None):
    stmt = trust({"Federated": provider}, "sts:AssumeRoleWithWebIdentity")
    if condition is not None:
        stmt["Condition"] = condition
    return stmt


S3_READ = allow(["s3:GetObject", "s3:ListBucket"], ["arn:aws:s3:::my-app-data", "arn:aws:s3:::my-app-data/*"])
ROLE_ARN = "arn:aws:iam::%s:role/app-worker" % ACCOUNT
INLINE = '"inline policy write"'
ATTACH = '"managed policy attachment"'
VERSION = '"policy version"'
PASS = '"PassRole to a service that runs code"'
ASSUME = '"role assumption"'
TRUST_UPDATE = '"trust policy update"'
CREDENTIALS = '"user credentials"'
ADMIN = "administrator access"
EVERYONE = "trusts Principal '*'"
NO_SUB = "without a condition on token.actions.githubusercontent.com:sub"

REFUSED = [
    # --- every grant the issue lists ---------------------------------------------------------------------------
    ("star", "permissions", doc(allow("*")), ("'*' on Resource '*'", ADMIN)),
    ("star-colon-star", "permissions", doc(allow("*:*")), ("'*:*' on Resource '*'", ADMIN)),
    ("iam-star", "permissions", doc(allow("iam:*")), ("'iam:*' on Resource '*'", "iam:PassRole", INLINE, ATTACH)),
    ("iam-star-star", "permissions", doc(allow("iam:**")), ("'iam:**'", "iam:CreatePolicyVersion", VERSION)),
    ("iam-question-star", "permissions", doc(allow("iam:?*")), ("'iam:?*'", "iam:CreatePolicyVersion", TRUST_UPDATE)),
    ("iam-star-on-every-role", "permissions", doc(allow("iam:*", "arn:aws:iam::*:role/*")),
     ("Resource 'arn:aws:iam::*:role/*'", "iam:PutRolePolicy", "every role of the account", PASS)),
    ("star-on-every-role", "permissions", doc(allow("*", "arn:aws:iam::*:role/*")),
     ("'*' on Resource 'arn:aws:iam::*:role/*'", "sts:AssumeRole", "iam:UpdateAssumeRolePolicy", ASSUME)),
    ("put-star-policy", "permissions", doc(allow("iam:Put*Policy")),
     ("'iam:Put*Policy'", "iam:PutRolePolicy", "iam:PutUserPolicy", "iam:PutGroupPolicy", INLINE)),
    ("attach-star-policy", "permissions", doc(allow("iam:Attach*Policy")),
     ("'iam:Attach*Policy'", "iam:AttachRolePolicy", "iam:AttachUserPolicy", ATTACH)),
    ("attach-role-policy", "permissions", doc(allow("iam:AttachRolePolicy")), ("iam:AttachRolePolicy", ATTACH)),
    ("create-policy-version", "permissions", doc(allow("iam:CreatePolicyVersion")),
     ("iam:CreatePolicyVersion", VERSION, "customer managed policies")),
    ("update-assume-role-policy", "permissions", doc(allow("iam:UpdateAssumeRolePolicy")),
     ("iam:UpdateAssumeRolePolicy", TRUST_UPDATE)),
    ("pass-role", "permissions", doc(allow("iam:PassRole")), ("'iam:PassRole' on Resource '*'", PASS, "Rhino")),
    ("assume-role", "permissions", doc(allow("sts:AssumeRole")),
     ("'sts:AssumeRole' on Resource '*'", ASSUME, "Bishop Fox iam-vulnerable privesc-AssumeRole")),
    # --- IAM's matching: case, wildcards, other partitions and ARN shapes that cover every resource of a type ----
    ("upper-case", "permissions", doc(allow("IAM:PUTROLEPOLICY")), ("'IAM:PUTROLEPOLICY'", "iam:PutRolePolicy")),
    ("lower-case", "permissions", doc(allow("iam:putrolepolicy")), ("'iam:putrolepolicy'", "iam:PutRolePolicy")),
    ("question-mark", "permissions", doc(allow("iam:Put?olePolicy")), ("'iam:Put?olePolicy'", "iam:PutRolePolicy")),
    ("create-star", "permissions", doc(allow("iam:Create*")),
     ("iam:CreatePolicyVersion", "iam:CreateAccessKey", "iam:CreateLoginProfile", CREDENTIALS)),
    ("update-star", "permissions", doc(allow("iam:Update*")), ("iam:UpdateAssumeRolePolicy", "iam:UpdateLoginProfile")),
    ("star-policy-star", "permissions", doc(allow("iam:*Policy*")),
     ("iam:SetDefaultPolicyVersion", "iam:PutGroupPolicy")),
    ("set-default-version", "permissions", doc(allow("iam:SetDefaultPolicyVersion", "arn:aws:iam::%s:policy/*" % ACCOUNT)),
     ("iam:SetDefaultPolicyVersion", "Resource 'arn:aws:iam::123456789012:policy/*'")),
    ("access-key-every-user", "permissions", doc(allow("iam:CreateAccessKey", "arn:aws:iam::*:user/*")),
     ("iam:CreateAccessKey", "every user", CREDENTIALS)),
    ("login-profile", "permissions", doc(allow("iam:CreateLoginProfile")), ("iam:CreateLoginProfile", CREDENTIALS)),
    ("update-login-profile", "permissions", doc(allow("iam:UpdateLoginProfile", "arn:aws:iam::%s:user/*" % ACCOUNT)),
     ("iam:UpdateLoginProfile",)),
    ("add-user-to-group", "permissions", doc(allow("iam:AddUserToGroup", "arn:aws:iam::%s:group/*" % ACCOUNT)),
     ("iam:AddUserToGroup", '"group membership"')),
    ("put-group-policy", "permissions", doc(allow("iam:PutGroupPolicy")), ("iam:PutGroupPolicy", INLINE)),
    ("aws-cn-users", "permissions", doc(allow("iam:PutUserPolicy", "arn:aws-cn:iam::*:user/*")),
     ("iam:PutUserPolicy", "arn:aws-cn:iam::*:user/*")),
    ("gov-cloud-account-wide", "permissions", doc(allow("iam:AttachUserPolicy", "arn:aws-us-gov:iam::%s:*" % ACCOUNT)),
     ("iam:AttachUserPolicy",)),
    ("iam-every-resource", "permissions", doc(allow("iam:*", "arn:aws:iam::*:*")), ("iam:AttachGroupPolicy",)),
    ("any-partition", "permissions", doc(allow("iam:*", "arn:*:iam::%s:*" % ACCOUNT)), ("iam:PutRolePolicy",)),
    ("role-question-star", "permissions", doc(allow("iam:*", "arn:aws:iam::*:role/?*")), ("iam:PassRole",)),
    ("pass-every-role-of-account", "permissions", doc(allow("iam:PassRole", "arn:aws:iam::%s:role/*" % ACCOUNT)),
     ("iam:PassRole", PASS)),
    ("pass-role-condition-not-evaluated", "permissions",
     doc(allow("iam:PassRole", Condition={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}})),
     ("iam:PassRole", PASS)),
    ("assume-every-role", "permissions", doc(allow("sts:AssumeRole", "arn:aws:iam::*:role/*")), ("sts:AssumeRole",)),
    ("sts-star", "permissions", doc(allow("sts:*")), ("'sts:*'", "sts:AssumeRole")),
    ("star-on-account-roles", "permissions", doc(allow("*", "arn:aws:iam::%s:role/*" % ACCOUNT)),
     ("iam:AttachRolePolicy",)),
    ("lambda-code", "permissions", doc(allow("lambda:UpdateFunctionCode")),
     ("lambda:UpdateFunctionCode", '"existing function code"', "Lambda function")),
    ("lambda-code-every-function", "permissions",
     doc(allow("lambda:UpdateFunctionCode", "arn:aws:lambda:*:%s:function:*" % ACCOUNT)), ("lambda:UpdateFunctionCode",)),
    ("glue-dev-endpoint", "permissions", doc(allow("glue:UpdateDevEndpoint")),
     ("glue:UpdateDevEndpoint", '"existing Glue development endpoint"')),
    ("mixed-resources", "permissions", doc(allow(["s3:GetObject", "iam:PassRole"], ["arn:aws:s3:::b/*", "*"])),
     ("'iam:PassRole' on Resource '*'",)),
    ("sid-named", "permissions", doc(S3_READ, allow("iam:PassRole", Sid="Escalate")), ("statement 'Escalate'",)),
    ("deny-leaves-the-rest", "permissions", doc(allow("iam:*"), deny("iam:PutRolePolicy")), ("iam:AttachRolePolicy",)),
    # --- NotAction / NotResource --------------------------------------------------------------------------------
    ("not-action-s3", "permissions", doc(not_action("s3:*")),
     ("every action except ['s3:*'] (NotAction)", "every other action", "iam:PassRole")),
    ("not-action-iam", "permissions", doc(not_action("iam:*")), ("every action except ['iam:*']", "sts:AssumeRole")),
    ("not-action-all-escalation-services", "permissions", doc(not_action(["iam:*", "sts:*", "lambda:*", "glue:*"])),
     ("every other action of every service",)),
    ("not-action-on-every-role", "permissions", doc(not_action("s3:*", "arn:aws:iam::*:role/*")),
     ("every action except ['s3:*'] (NotAction)", "iam:PassRole", "every role")),
    ("star-not-resource", "permissions", doc({"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::b"}),
     ("every resource except ['arn:aws:s3:::b'] (NotResource)", ADMIN)),
    ("not-resource-one-role", "permissions",
     doc({"Effect": "Allow", "Action": "iam:PutRolePolicy", "NotResource": "arn:aws:iam::*:role/admin"}),
     ("every resource except", "iam:PutRolePolicy", INLINE)),
    # --- the role changing itself -------------------------------------------------------------------------------
    ("self-put-role-policy", "permissions",
     doc(allow("iam:PutRolePolicy", "arn:aws:iam::%s:role/AppInstanceRole" % ACCOUNT)),
     ("includes this role itself (role/AppInstanceRole)", "iam:PutRolePolicy", INLINE)),
    ("self-attach-by-prefix", "permissions", doc(allow("iam:AttachRolePolicy", "arn:aws:iam::%s:role/App*" % ACCOUNT)),
     ("includes this role itself", "iam:AttachRolePolicy", ATTACH)),
    ("self-trust-update", "permissions", doc(allow("iam:UpdateAssumeRolePolicy", "arn:aws:iam::*:role/AppInstanceRole")),
     ("includes this role itself", TRUST_UPDATE)),
    # --- trust policies -----------------------------------------------------------------------------------------
    ("trust-star", "trust", doc(trust("*")), (EVERYONE + " without a Condition",)),
    ("trust-every-aws", "trust", doc(trust({"AWS": "*"}, Condition={"Bool": {"aws:SecureTransport": "true"}})),
     (EVERYONE + " with a Condition that restricts no principal",)),
    ("trust-star-org-wildcard", "trust", doc(trust("*", Condition={"StringLike": {"aws:PrincipalOrgID": "*"}})),
     ("restricts no principal",)),
    ("trust-star-if-exists", "trust",
     doc(trust("*", Condition={"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}})),
     ("restricts no principal",)),
    ("trust-star-external-id", "trust", doc(trust("*", Condition={"StringEquals": {"sts:ExternalId": "x-1"}})),
     ("restricts no principal",)),
    ("trust-star-any-account-arn", "trust",
     doc(trust("*", Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/admin"}})),
     ("restricts no principal",)),
    ("trust-star-not-equals", "trust",
     doc(trust("*", Condition={"StringNotEquals": {"aws:PrincipalAccount": "111122223333"}})),
     ("restricts no principal",)),
    ("trust-not-principal", "trust",
     doc({"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::%s:root" % ACCOUNT}, "Action": "sts:AssumeRole"}),
     ("NotPrincipal",)),
    ("web-identity-no-condition", "trust", doc(web(GITHUB)), (NO_SUB,)),
    ("web-identity-aud-only", "trust",
     doc(web(GITHUB, {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}})), (NO_SUB,)),
    ("web-identity-any-repo", "trust",
     doc(web(GITHUB, {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:*"}})), (NO_SUB,)),
    ("web-identity-sub-star", "trust",
     doc(web(GITHUB, {"StringLike": {"token.actions.githubusercontent.com:sub": "*"}})), (NO_SUB,)),
    ("web-identity-if-exists", "trust",
     doc(web(GITHUB, {"StringLikeIfExists": {"token.actions.githubusercontent.com:sub": "repo:o/r:*"}})), (NO_SUB,)),
    ("web-identity-google", "trust", doc(web("accounts.google.com")), ("accounts.google.com:sub",)),
    ("web-identity-eks-every-service-account", "trust",
     doc(web(EKS, {"StringLike": {EKS.split("oidc-provider/")[1] + ":sub": "system:serviceaccount:*"}})),
     ("oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:sub",)),
]

ACCEPTED = [
    ("scoped-pass-role", "permissions", doc(allow("iam:PassRole", ROLE_ARN))),
    ("scoped-pass-role-path", "permissions", doc(allow("iam:PassRole", "arn:aws:iam::%s:role/app/*" % ACCOUNT))),
    ("scoped-pass-role-name-prefix", "permissions", doc(allow("iam:PassRole", "arn:aws:iam::%s:role/app-*" % ACCOUNT))),
    ("scoped-pass-role-to-ec2", "permissions",
     doc(allow("iam:PassRole", ROLE_ARN, Condition={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}))),
    ("scoped-assume-role", "permissions", doc(allow("sts:AssumeRole", "arn:aws:iam::210987654321:role/CrossAccountReader"))),
    ("read-only-iam", "permissions", doc(allow(["iam:Get*", "iam:List*"]))),
    ("read-only-iam-lower-case", "permissions", doc(allow(["iam:get*", "iam:list*", "iam:SimulatePrincipalPolicy"]))),
    ("s3-star-one-bucket", "permissions", doc(allow("s3:*", ["arn:aws:s3:::my-app-data", "arn:aws:s3:::my-app-data/*"]))),
    ("named-other-role-policy", "permissions", doc(allow(["iam:PutRolePolicy", "iam:AttachRolePolicy"], ROLE_ARN))),
    ("other-path-not-self", "permissions", doc(allow("iam:PutRolePolicy", "arn:aws:iam::%s:role/app/*" % ACCOUNT))),
    ("own-user-keys", "permissions", doc(allow("iam:CreateAccessKey", "arn:aws:iam::*:user/${aws:username}"))),
    ("named-policy-version", "permissions",
     doc(allow("iam:CreatePolicyVersion", "arn:aws:iam::%s:policy/app/app-access" % ACCOUNT))),
    ("named-function-code", "permissions",
     doc(allow("lambda:UpdateFunctionCode", "arn:aws:lambda:us-east-1:%s:function:app-resize" % ACCOUNT))),
    ("named-glue-endpoint", "permissions",
     doc(allow("glue:UpdateDevEndpoint", "arn:aws:glue:us-east-1:%s:devEndpoint/app-dev" % ACCOUNT))),
    ("deny-everything", "permissions", doc(deny("*"))),
    ("allow-iam-denied-again", "permissions", doc(allow("iam:*"), deny("iam:*"), deny("sts:AssumeRole"))),
    ("not-action-on-one-bucket", "permissions", doc(not_action("s3:Delete*", "arn:aws:s3:::my-app-data/*"))),
    ("describe-everything", "permissions", doc(allow(["ec2:Describe*", "sts:GetCallerIdentity"]))),
    ("cloudwatch-agent", "permissions", doc(allow(["cloudwatch:PutMetricData", "ec2:DescribeTags"]),
                                            allow("logs:*", "arn:aws:logs:*:%s:log-group:app/*" % ACCOUNT))),
    ("secrets-and-keys", "permissions",
     doc(allow("ssm:GetParameter", "arn:aws:ssm:us-east-1:%s:parameter/app/*" % ACCOUNT),
         allow("kms:Decrypt", "arn:aws:kms:us-east-1:%s:key/1234abcd-12ab-34cd-56ef-1234567890ab" % ACCOUNT))),
    ("aws-managed-accounts-only", "permissions", doc(allow("iam:CreatePolicyVersion", "arn:aws:iam::aws:policy/*"))),
    ("trust-ec2", "trust", doc(trust({"Service": "ec2.amazonaws.com"}))),
    ("trust-account-root", "trust", doc(trust({"AWS": "arn:aws:iam::210987654321:root"}))),
    ("trust-star-in-org", "trust", doc(trust("*", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}))),
    ("trust-star-account-roles", "trust",
     doc(trust("*", Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/*"}}))),
    ("web-identity-one-repo", "trust",
     doc(web(GITHUB, {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                      "StringLike": {"token.actions.githubusercontent.com:sub": "repo:my-org/my-repo:*"}}))),
    ("web-identity-eks-service-account", "trust",
     doc(web(EKS, {"StringEquals": {EKS.split("oidc-provider/")[1] + ":sub": "system:serviceaccount:app:web"}}))),
    ("web-identity-cognito-pool", "trust",
     doc(web("cognito-identity.amazonaws.com",
             {"StringEquals": {"cognito-identity.amazonaws.com:aud": "us-east-1:12345678-1234-1234-1234-123456789012"}}))),
    ("trust-saml", "trust",
     doc(trust({"Federated": "arn:aws:iam::%s:saml-provider/corp" % ACCOUNT}, "sts:AssumeRoleWithSAML",
               Condition={"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}))),
]
