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
      - IAM is global; IAM-only modules fall back to C(us-east-1) when no region is set.
      - Falls back to the E(AWS_REGION) or E(AWS_DEFAULT_REGION) environment variables.
    type: str
    aliases: [aws_region]
  profile:
    description:
      - A named profile from the AWS shared config and credentials files.
      - Falls back to the E(AWS_PROFILE) environment variable.
      - Cannot be combined with O(access_key), O(secret_key) or O(session_token).
    type: str
    aliases: [aws_profile]
  endpoint_url:
    description:
      - Send every API call to this URL instead of the AWS endpoints (a local endpoint, a proxy,
        a VPC endpoint).
      - Falls back to the E(AWS_ENDPOINT_URL) environment variable.
    type: str
    aliases: [aws_endpoint_url]
  access_key:
    description:
      - AWS access key id. When no credentials are given the standard botocore chain is used
        (E(AWS_ACCESS_KEY_ID) and friends, shared credentials files, container and instance roles).
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
      - Assume this IAM role (with the credentials found as above) and make every call with its
        temporary credentials. This is how one inventory host targets one account.
    type: str
  assume_role_session_name:
    description:
      - The session name used with O(assume_role_arn); it shows in CloudTrail.
    type: str
    default: keyless-aws
  assume_role_external_id:
    description:
      - The external id the trust policy of O(assume_role_arn) requires, if any. Never logged.
    type: str
  assume_role_duration:
    description:
      - How long each session of O(assume_role_arn) lasts, in seconds (STS C(DurationSeconds)), from
        V(900) to V(43200). Default is STS's, one hour. The credentials are renewed before they expire,
        so a task may run longer than one session.
    type: int
notes:
  - Credentials are resolved once per task and one boto3 session serves every call of the task.
"""
