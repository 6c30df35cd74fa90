#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only module of the integration targets: one AWS API call made with boto3, as AWS documents it.

The targets use it to seed what a keyless.aws module must find (instances, launch templates, metric
data, CloudTrail log files in S3) and to read AWS state back independently of the module under test,
then to clean up. It is not part of the collection's interface and is not shipped to users' hosts.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: keyless_test_aws
short_description: Make AWS API calls with boto3 (integration test helper)
description:
  - Calls O(operation) of O(service) with O(params); with O(paginate) the whole paginated result is
    returned, with O(waiter) the named botocore waiter runs afterwards.
  - Or makes each call of O(calls) in order, in one task (one module run is faster than several).
  - Error codes in O(missing_ok) are not failures (the result says C(found=false)); reads of what should
    be gone and cleanup use this.
author: keyless.aws maintainers (@keyless-aws)
options:
  service: {description: boto3 service name., type: str}
  operation: {description: The snake_case client method., type: str}
  params: {description: Keyword arguments of the call., type: dict, default: {}}
  paginate: {description: Use the operation's paginator and return the full result., type: bool, default: false}
  missing_ok: {description: Error codes that mean "nothing there"., type: list, elements: str, default: []}
  calls:
    description:
      - Several calls, each a dict with C(service), C(operation) and optionally C(params), C(paginate),
        C(missing_ok) and C(region) (another region than O(region)).
    type: list
    elements: dict
  waiter: {description: A botocore waiter to run after the single call., type: str}
  waiter_params: {description: Arguments of the waiter (default O(params))., type: dict}
  waiter_delay: {description: Seconds between the waiter's polls., type: int, default: 5}
  region: {description: Region., type: str}
  endpoint_url: {description: Endpoint., type: str}
  access_key: {description: Access key id., type: str}
  secret_key: {description: Secret access key., type: str}
  session_token: {description: Session token., type: str}
"""

EXAMPLES = r"""
- name: Read a role and its tags back
  keyless_test_aws:
    calls:
      - {service: iam, operation: get_role, params: {RoleName: app}, missing_ok: [NoSuchEntity]}
      - {service: iam, operation: list_role_tags, params: {RoleName: app}, missing_ok: [NoSuchEntity]}
  register: read
"""

RETURN = r"""
response:
  description: The response of the single call without ResponseMetadata (timestamps as ISO 8601 strings, bodies as text).
  returned: always
  type: dict
found:
  description: False when the single call failed with a code in O(missing_ok).
  returned: always
  type: bool
responses:
  description: With O(calls), one C({found, response, code}) per call, in order.
  returned: always
  type: list
  elements: dict
"""

import datetime
import time

from ansible.module_utils.basic import AnsibleModule

# a 5xx whose body is no AWS error (a load balancer's HTML page, the local endpoint's strict layer) is retried
# like any 5xx: the collection's one hook for it
from ansible_collections.keyless.aws.plugins.module_utils.aws.connection import retry_any_5xx

try:
    import boto3
    from botocore.exceptions import ClientError, WaiterError
except ImportError:
    boto3 = None

READ_PREFIXES = ("describe_", "get_", "list_", "lookup_", "head_")


def plain(value):
    """A JSON-safe copy of a boto3 response."""
    if isinstance(value, dict):
        return dict((k, plain(v)) for k, v in value.items() if k != "ResponseMetadata")
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "read"):
        return value.read().decode("utf-8", "replace")
    return value


class CallFailed(Exception):
    pass


# Answers that mean "not yet" right after a change, as on AWS (and the local endpoint's strict layer): IAM does
# not know a role created a moment ago (AddRoleToInstanceProfile: NoSuchEntity "The role with name ... cannot be
# found"), EC2 does not know a new profile yet (InvalidParameterValue "Invalid IAM Instance Profile"), an
# association still associating/disassociating (IncorrectState). Setup retries them for up to 2 minutes, as
# terraform-provider-aws does, so it works on a real account as on the local endpoint.
SETTLING = {
    "add_role_to_instance_profile": ("NoSuchEntity", ""),
    "associate_iam_instance_profile": ("InvalidParameterValue", "invalid iam instance profile"),
    "replace_iam_instance_profile_association": ("InvalidParameterValue", "invalid iam instance profile"),
}
SETTLING_STATE = ("associate_iam_instance_profile", "replace_iam_instance_profile_association",
                  "disassociate_iam_instance_profile")
SETTLING_SECONDS = 120


def _unique_id_arn(operation, response):
    """A Get* read of a role or instance profile whose Arn is still the unique id (AROA.../AIPA...), as IAM may
    answer right after the create (terraform-provider-aws waits for an ARN): read it again."""
    if not operation.startswith("get_"):
        return False
    for key in ("Role", "InstanceProfile"):
        arn = (response.get(key) or {}).get("Arn")
        if arn is not None and not str(arn).startswith("arn:"):
            return True
    return False


def _settling(operation, exc):
    err = exc.response.get("Error", {})
    code, message = err.get("Code"), (err.get("Message") or "").lower()
    if operation in SETTLING_STATE and code == "IncorrectState":
        return True
    wanted = SETTLING.get(operation)
    return bool(wanted) and code == wanted[0] and wanted[1] in message


def make_call(clients, call):
    """{found, response, code} of one call; CallFailed unless its error code is in missing_ok."""
    client = clients(call["service"], call.get("region"))
    params = call.get("params") or {}
    deadline = time.monotonic() + SETTLING_SECONDS
    delay = 0.25
    while True:
        try:
            if call.get("paginate"):
                response = client.get_paginator(call["operation"]).paginate(**params).build_full_result()
            else:
                response = getattr(client, call["operation"])(**params)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in (call.get("missing_ok") or []):
                return {"found": False, "response": {}, "code": code}
            if _settling(call["operation"], exc) and time.monotonic() + delay < deadline:
                time.sleep(delay)
                delay = min(5.0, delay * 2)
                continue
            raise CallFailed("%s.%s failed: %s" % (call["service"], call["operation"], exc))
        if _unique_id_arn(call["operation"], response) and time.monotonic() + delay < deadline:
            time.sleep(delay)
            delay = min(5.0, delay * 2)
            continue
        return {"found": True, "response": plain(response), "code": None}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            service=dict(type="str"),
            operation=dict(type="str"),
            params=dict(type="dict", default={}),
            paginate=dict(type="bool", default=False),
            missing_ok=dict(type="list", elements="str", default=[]),
            calls=dict(type="list", elements="dict"),
            waiter=dict(type="str"),
            waiter_params=dict(type="dict"),
            waiter_delay=dict(type="int", default=5),
            region=dict(type="str"),
            endpoint_url=dict(type="str"),
            access_key=dict(type="str", no_log=True),
            secret_key=dict(type="str", no_log=True),
            session_token=dict(type="str", no_log=True),
        ),
        required_one_of=[("operation", "calls")],
        mutually_exclusive=[("operation", "calls"), ("waiter", "calls")],
        required_together=[("service", "operation")],
    )
    if boto3 is None:
        module.fail_json(msg="keyless_test_aws needs boto3 on the controller")
    p = module.params
    session = retry_any_5xx(boto3.session.Session(
        aws_access_key_id=p["access_key"], aws_secret_access_key=p["secret_key"], aws_session_token=p["session_token"],
        region_name=p["region"]))
    cache = {}

    def clients(service, region=None):
        key = (service, region)
        if key not in cache:
            cache[key] = session.client(service, region_name=region or p["region"], endpoint_url=p["endpoint_url"])
        return cache[key]

    calls = p["calls"] or [dict((k, p[k]) for k in ("service", "operation", "params", "paginate", "missing_ok"))]
    changed = any(not c["operation"].startswith(READ_PREFIXES) for c in calls)
    try:
        results = [make_call(clients, call) for call in calls]
        if p["waiter"] and results[0]["found"]:
            waiter_params = dict(p["waiter_params"] if p["waiter_params"] is not None else p["params"])
            waiter_params["WaiterConfig"] = {"Delay": p["waiter_delay"], "MaxAttempts": max(1, 600 // p["waiter_delay"])}
            clients(p["service"]).get_waiter(p["waiter"]).wait(**waiter_params)
    except CallFailed as exc:
        module.fail_json(msg=str(exc))
    except WaiterError as exc:
        module.fail_json(msg="waiter %s after %s.%s: %s" % (p["waiter"], p["service"], p["operation"], exc))
    module.exit_json(changed=changed, responses=results, found=results[0]["found"], response=results[0]["response"])


if __name__ == "__main__":
    main()
