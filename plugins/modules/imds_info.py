#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: imds_info
short_description: Verify IMDSv2 and the instance role from the EC2 instance itself
version_added: 0.1.0
description:
  - Runs on an EC2 instance (Python 3.8+, standard library only; no boto3 needed) and asks the
    instance metadata service (IMDS) what the instance really gets.
  - Requests an IMDSv2 session token (C(PUT /latest/api/token)), reads the instance id, the region,
    the role name of the instance profile and the C(Code), C(LastUpdated) and C(Expiration) of its
    temporary credentials, and sends one token-less (IMDSv1) GET to see whether it is refused.
  - The access key id, secret access key and session token are read with the credentials document
    and dropped at once; they are never returned or logged. The IMDSv2 token is not returned either.
  - Returns a list of RV(checks) and, with O(fail_on_check=true), fails naming every failed check.
  - Proxy settings from the environment are ignored; IMDS is never reached through a proxy.
author: keyless.aws maintainers (@keyless-aws)
options:
  endpoint:
    description:
      - Base URL of the metadata service. Defaults to V(http://169.254.169.254), or to
        V(http://[fd00:ec2::254]) with O(ipv6=true).
      - Set it to reach an emulator; a path prefix is kept (V(http://127.0.0.1:8080/i-0abc)).
    type: str
  ipv6:
    description:
      - Use the IPv6 endpoint V(http://[fd00:ec2::254]) (the instance needs
        C(http_protocol_ipv6=enabled) and a Nitro instance type). Cannot be combined with O(endpoint).
    type: bool
    default: false
  token_ttl:
    description:
      - Lifetime in seconds of the IMDSv2 token requested, 1 to 21600.
    type: int
    default: 21600
  timeout:
    description:
      - Seconds to wait for each HTTP answer. The token response is dropped by the network when the hop
        limit is too low (for example 1 inside a container), which shows up as a timeout.
    type: float
    default: 2.0
  retries:
    description:
      - Extra attempts, with a short backoff, for an exchange that got no answer or an HTTP 5xx (0 to 10).
    type: int
    default: 2
  expected_role:
    description:
      - The IAM role (name, or ARN whose last path segment is the name) the instance profile must carry.
      - Adds the C(role) check.
    type: str
  require_imdsv2:
    description:
      - Add the C(imdsv1_refused) check, which passes only when a token-less GET is answered with HTTP 401.
      - With V(false) no token-less GET is sent at all, and nothing is read without a token. Use it on an instance
        that is still allowed IMDSv1 (held back by the rollout) - there that GET would be an IMDSv1 call of the
        check's own, counted in the instance's C(MetadataNoToken) metric, which is what keeps it held.
    type: bool
    default: true
  fail_on_check:
    description:
      - Fail the task when any check fails, naming each with its reason. With V(false) the checks are
        only reported.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: The module only reads; it behaves the same in check mode.
  diff_mode:
    support: none
    description: The module changes nothing, so there is nothing to diff.
notes:
  - Set C(ansible_python_interpreter) to a Python 3.8+ that exists on the instance; the module needs nothing beyond the
    Python standard library.
"""

EXAMPLES = r"""
- name: Verify IMDSv2 and the role on every instance
  keyless.aws.imds_info:
    expected_role: app-instance-role
  register: imds

- name: Show the credential expiry
  ansible.builtin.debug:
    msg: "{{ imds.instance_id }} has {{ imds.role_name }} until {{ imds.credentials.expiration }}"

- name: Report only, over IPv6, with a short token
  keyless.aws.imds_info:
    ipv6: true
    token_ttl: 60
    fail_on_check: false
"""

RETURN = r"""
endpoint:
  description: The base URL that was asked.
  returned: always
  type: str
  sample: http://169.254.169.254
imdsv2:
  description: The IMDSv2 token request.
  returned: always
  type: dict
  contains:
    token_ok:
      description: Whether a session token was issued.
      type: bool
    token_status:
      description: HTTP status of the token request, or null when there was no answer.
      type: int
  sample: {token_ok: true, token_status: 200}
imdsv1_refused:
  description:
    - Whether a token-less GET was refused (HTTP 401 tokens required, or 403 endpoint disabled); null
      when there was no answer, or none was sent (O(require_imdsv2=false)).
  returned: always
  type: bool
  sample: true
imdsv1_status:
  description: HTTP status of the token-less GET, or null when there was no answer or none was sent (O(require_imdsv2=false)).
  returned: always
  type: int
  sample: 401
instance_id:
  description: The instance id, or null when it could not be read.
  returned: always
  type: str
  sample: i-0123456789abcdef0
region:
  description: The instance's region.
  returned: always
  type: str
  sample: us-east-1
role_name:
  description: The role of the instance profile, or null when no profile is attached.
  returned: always
  type: str
  sample: app-instance-role
instance_profile_arn:
  description: The ARN of the instance profile, or null.
  returned: always
  type: str
  sample: arn:aws:iam::123456789012:instance-profile/app-instance-profile
credentials:
  description: What is safe to show of the role's temporary credentials; null without a role.
  returned: always
  type: dict
  contains:
    code:
      description: C(Success) when the credentials are usable.
      type: str
    type:
      description: The credential type (C(AWS-HMAC)).
      type: str
    last_updated:
      description: When IMDS last refreshed the credentials.
      type: str
    expiration:
      description: When they expire (IMDS rotates them at least 5 minutes before).
      type: str
    expires_in_seconds:
      description: Seconds from now until expiration.
      type: int
    http_status:
      description: HTTP status of the credentials read.
      type: int
  sample:
    code: Success
    type: AWS-HMAC
    last_updated: "2026-12-01T08:00:00Z"
    expiration: "2026-12-01T14:00:00Z"
    expires_in_seconds: 21000
    http_status: 200
checks:
  description: One entry per check, in order endpoint_enabled, imdsv2_token, imdsv1_refused, role, credentials.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The check.
      type: str
    ok:
      description: Whether it passed.
      type: bool
    detail:
      description: What was seen, and what to do when it failed.
      type: str
  sample:
    - {name: imdsv1_refused, ok: false, detail: "IMDSv1 is allowed: a GET without a token was answered with HTTP 200"}
failed_checks:
  description: The names of the checks that failed.
  returned: always
  type: list
  elements: str
  sample: [imdsv1_refused]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.keyless.aws.plugins.module_utils import imds


def argument_spec():
    return dict(
        endpoint=dict(type="str"),
        ipv6=dict(type="bool", default=False),
        token_ttl=dict(type="int", default=imds.MAX_TOKEN_TTL, no_log=False),
        timeout=dict(type="float", default=2.0),
        retries=dict(type="int", default=2),
        expected_role=dict(type="str"),
        require_imdsv2=dict(type="bool", default=True),
        fail_on_check=dict(type="bool", default=True),
    )


def validate(params):
    errors = []
    endpoint = params.get("endpoint")
    if endpoint is not None and not endpoint.startswith("http://"):
        errors.append("endpoint=%r is not an http:// URL: IMDS speaks plain HTTP (e.g. http://169.254.169.254)"
                      % endpoint)
    if endpoint and params.get("ipv6"):
        errors.append("endpoint and ipv6=true were both given: use ipv6 for %s, or endpoint alone"
                      % imds.IPV6_ENDPOINT)
    if not 1 <= params["token_ttl"] <= imds.MAX_TOKEN_TTL:
        errors.append("token_ttl=%r is out of range: use 1 to %d seconds" % (params["token_ttl"], imds.MAX_TOKEN_TTL))
    if not 0 < params["timeout"] <= 60:
        errors.append("timeout=%r is out of range: use more than 0 and at most 60 seconds" % params["timeout"])
    if not 0 <= params["retries"] <= 10:
        errors.append("retries=%r is out of range: use 0 to 10" % params["retries"])
    return errors


def endpoint_of(params):
    if params.get("endpoint"):
        return params["endpoint"]
    return imds.IPV6_ENDPOINT if params.get("ipv6") else imds.DEFAULT_ENDPOINT


def report(obs, checks):
    v1 = obs["imdsv1_status"]
    return dict(
        changed=False,
        endpoint=obs["endpoint"],
        imdsv2=dict(token_ok=obs["token_ok"], token_status=obs["token_status"]),
        imdsv1_status=v1,
        imdsv1_refused=None if v1 is None else v1 in (401, 403),
        instance_id=obs["instance_id"],
        region=obs["region"],
        role_name=obs["role_name"],
        instance_profile_arn=obs["instance_profile_arn"],
        credentials=obs["credentials"],
        checks=checks,
        failed_checks=[c["name"] for c in checks if not c["ok"]],
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    errors = validate(module.params)
    if errors:
        module.fail_json(msg="invalid input: " + "; ".join(errors), errors=errors)
    params = module.params
    client = imds.ImdsClient(endpoint_of(params), timeout=params["timeout"], retries=params["retries"],
                             token_ttl=params["token_ttl"])
    # the token-less GET only when its answer is asked for: on an instance still at http_tokens=optional it would be
    # an IMDSv1 call of our own, counted in MetadataNoToken (the signal that holds the instance back)
    obs = imds.observe(client, probe_imdsv1=params["require_imdsv2"])
    checks = imds.checks(obs, expected_role=params.get("expected_role"), require_imdsv2=params["require_imdsv2"])
    result = report(obs, checks)
    failed = [c for c in checks if not c["ok"]]
    if failed and params["fail_on_check"]:
        module.fail_json(msg="%d IMDS check(s) failed on %s: %s" % (
            len(failed), obs["instance_id"] or obs["endpoint"],
            "; ".join("%s: %s" % (c["name"], c["detail"]) for c in failed)), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
