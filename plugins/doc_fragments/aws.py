# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Connection options shared by every keyless.aws module that talks to AWS.
    DOCUMENTATION = r"""
options:
  region:
    description:
      - The AWS region to use.
      - "Resolution order: this option; the E(AWS_REGION) or E(AWS_DEFAULT_REGION) environment variable;
        the C(region) of the profile (O(profile), else C(default)) in the AWS config file
        (C(~/.aws/config) or E(AWS_CONFIG_FILE)), as botocore reads it; the module's own default."
      - IAM is global; IAM-only modules fall back to C(us-east-1) when none of these gives a region.
        Modules that need a region fail, saying where one can come from, only when none of these gives one.
    type: str
    aliases: [aws_region]
  profile:
    description:
      - A named profile from the AWS config file (C(~/.aws/config) or E(AWS_CONFIG_FILE)) and the shared
        credentials file (C(~/.aws/credentials) or E(AWS_SHARED_CREDENTIALS_FILE)).
      - Falls back to the E(AWS_PROFILE) environment variable.
      - Everything the AWS CLI honours in a profile works, because botocore resolves it - static keys,
        C(role_arn) with C(source_profile) or C(credential_source) (assumed and refreshed by botocore),
        C(sso_session) / C(sso_*) (after C(aws sso login)), C(credential_process), C(web_identity_token_file),
        and the profile's C(region).
      - With a profile named, the E(AWS_ACCESS_KEY_ID) / E(AWS_SECRET_ACCESS_KEY) environment variables
        are not read.
      - Cannot be combined with O(access_key), O(secret_key) or O(session_token); the task fails before
        any AWS call if they are given together.
    type: str
    aliases: [aws_profile]
  endpoint_url:
    description:
      - Send every API call to this URL instead of the AWS endpoints (a local endpoint, a proxy,
        a VPC endpoint). The STS calls of O(assume_role_arn) go there too.
      - Falls back to the E(AWS_ENDPOINT_URL) environment variable (which botocore also applies to the
        STS calls it makes for a profile's C(role_arn)).
    type: str
    aliases: [aws_endpoint_url]
  access_key:
    description:
      - AWS access key id. Give it with O(secret_key) (and O(session_token) for temporary keys).
      - "When no keys are given, botocore's chain is used, in this order: the E(AWS_ACCESS_KEY_ID),
        E(AWS_SECRET_ACCESS_KEY) and E(AWS_SESSION_TOKEN) environment variables (not read when a profile
        is named); the profile's C(role_arn), web identity (E(AWS_WEB_IDENTITY_TOKEN_FILE)), SSO, the shared
        credentials file, C(credential_process) and the config file; container credentials; the EC2
        instance metadata service (the instance's role)."
      - When none of these gives credentials, the first AWS call fails with a message that lists what was
        tried and how to give credentials.
      - Never logged or returned.
    type: str
    aliases: [aws_access_key_id]
  secret_key:
    description:
      - AWS secret access key. Never logged or returned.
    type: str
    aliases: [aws_secret_access_key]
  session_token:
    description:
      - AWS session token for temporary credentials. Never logged or returned.
    type: str
    aliases: [aws_session_token]
  validate_certs:
    description:
      - Verify TLS certificates of the endpoint. Only set to V(false) against a local test endpoint.
    type: bool
    default: true
  aws_ca_bundle:
    description:
      - Path to a CA bundle used to verify TLS certificates.
      - Falls back to the E(AWS_CA_BUNDLE) environment variable.
    type: path
  retry_mode:
    description:
      - The botocore retry mode. V(standard) retries throttling and transient errors with
        exponential backoff; V(adaptive) also rate-limits the client after it is throttled.
    type: str
    choices: [standard, adaptive]
    default: standard
  max_attempts:
    description:
      - Total attempts per API call (first try included) for throttling and transient errors.
    type: int
    default: 10
  assume_role_arn:
    description:
      - Assume this IAM role with the credentials found as above (O(profile), the keys or botocore's
        chain - the base credentials) and make every call with its temporary credentials. This is how
        one inventory host targets one account.
      - The role is assumed at the first AWS call, and assumed again before the credentials expire, so
        a task may run longer than one session (a large fleet or a whole organization).
      - The STS calls use O(endpoint_url), O(validate_certs), O(aws_ca_bundle), O(retry_mode) and
        O(max_attempts) like every other call.
    type: str
  assume_role_session_name:
    description:
      - The session name used with O(assume_role_arn); it shows in CloudTrail. 2 to 64 letters, digits
        or C(_+=,.@-).
    type: str
    default: keyless-aws
  assume_role_external_id:
    description:
      - The external id the trust policy of O(assume_role_arn) requires, if any. Never logged.
      - Needs O(assume_role_arn).
    type: str
  assume_role_duration:
    description:
      - How long each session of O(assume_role_arn) lasts, in seconds (STS C(DurationSeconds)), from
        V(900) to V(43200), and at most the role's maximum session duration (one hour unless raised;
        one hour when the base credentials are themselves an assumed role).
      - Default is STS's, one hour. The credentials are renewed before they expire whatever the
        duration, so this only sets how often the role is assumed again.
      - Needs O(assume_role_arn).
    type: int
notes:
  - Credentials are resolved by botocore, as the AWS CLI and SDKs resolve them, once per task, and one
    boto3 session serves every call of the task; temporary credentials (O(assume_role_arn), a profile's
    C(role_arn), SSO, the instance's role) are renewed before they expire.
"""
