#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: iam_access_key_info
short_description: List IAM users' access keys, and which instances of the fleet use each one
version_added: 0.2.0
description:
  - Reports every IAM user's access keys (or those of O(user_names)) with their status, creation date, age and
    C(GetAccessKeyLastUsed) (when, with which service, in which region), each key id masked to its first and last
    4 characters. No call made here returns a secret access key.
  - With O(activity=true), also reads the CloudTrail events each long-term key (C(AKIA...)) made over the last
    O(days) days (the C(LookupEvents) API, or the trail's log files in S3 or a local directory, as
    M(keyless.aws.iam_policy_from_activity) reads them) and ties each call to the instance of the fleet it came
    from - the instances O(instance_ids), O(filters) and O(tags) select - by the event's C(sourceIPAddress) -
    an instance's public IPv4 (or IPv6) address, or its private IPv4 address for a call through a VPC endpoint
    (the event then carries C(vpcEndpointId) and the endpoint's VPC must be the instance's VPC).
  - Per key and instance, it reports how many calls, which IAM actions they needed, and when the key was first and
    last seen there; the calls from addresses of no selected instance (another network, a NAT gateway whose
    address names no single instance) are counted apart.
  - Read-only. To deactivate, reactivate or delete a key, use M(keyless.aws.iam_access_key).
author: keyless.aws maintainers (@keyless-aws)
options:
  user_names:
    description:
      - The IAM users to report. Default is every user of the account (C(ListUsers)).
    type: list
    elements: str
  ignore_missing:
    description:
      - Report a user of O(user_names) that does not exist in RV(missing_users) instead of failing.
    type: bool
    default: false
  activity:
    description:
      - Read CloudTrail to find which instances of the selected fleet use each key. Needs a selector
        (O(instance_ids), O(filters), O(tags) or O(all_instances=true)); without O(activity) they are refused.
    type: bool
    default: false
  source:
    description:
      - Where the events come from, with O(activity=true).
      - V(lookup_events) calls C(LookupEvents) in each of O(regions) (management events only, 90 days).
      - V(s3) reads the window's log files from O(s3_bucket); V(local) from O(local_path).
    type: str
    choices: [lookup_events, s3, local]
    default: lookup_events
  days:
    description:
      - The window in days back from now (1 to 90 with V(lookup_events), to 3650 with log files).
    type: int
    default: 30
  regions:
    description:
      - The regions to read. Default with O(source=lookup_events) is the connection's region; with log files every
        region folder of the layout. Calls to IAM and other global services are recorded in C(us-east-1).
    type: list
    elements: str
  max_events:
    description:
      - Stop after reading this many events (of any principal); RV(source) then says C(truncated=true).
    type: int
    default: 100000
attributes:
  check_mode:
    support: full
    description: The module only reads; check mode runs it the same way and returns the same result.
  diff_mode:
    support: N/A
    description: The module only reads, so there is nothing to diff.
notes:
  - Needs C(iam:ListUsers), C(iam:ListAccessKeys), C(iam:GetAccessKeyLastUsed); with O(activity=true) also
    C(ec2:DescribeInstances), C(ec2:DescribeVpcEndpoints) and C(cloudtrail:LookupEvents), or C(s3:ListBucket) and
    C(s3:GetObject) on the trail's bucket.
  - With O(source=lookup_events) each long-term key's events are read by C(LookupEvents) filtered on the key
    (C(LookupAttribute) C(AccessKeyId), 50 events a call, 2 calls a second per region); with many keys or a busy
    account prefer O(source=s3).
extends_documentation_fragment:
  - keyless.aws.aws
  - keyless.aws.fleet
  - keyless.aws.cloudtrail
"""

EXAMPLES = r"""
- name: Every user's access keys, with their last use
  keyless.aws.iam_access_key_info:
  register: keys

- name: Which instances of the web fleet use which key (trail log files in S3, last 30 days)
  keyless.aws.iam_access_key_info:
    region: eu-west-1
    tags:
      Fleet: web
    activity: true
    source: s3
    s3_bucket: org-cloudtrail-logs
    days: 30
  register: key_usage

- name: Show the keys used from the fleet
  ansible.builtin.debug:
    msg: "{{ item.user }} {{ item.access_key_id }} from {{ item.used_from | map(attribute='instance_id') | list }}"
  loop: "{{ key_usage['keys'] | selectattr('used_from') | list }}"
"""

RETURN = r"""
users:
  description: The users read, each with its keys (masked ids) and how many are active.
  returned: always
  type: list
  elements: dict
  sample: [{"user_name": "app-deploy", "keys": ["AKIA...WXYZ"], "active_keys": 1}]
keys:
  description:
    - Every key of the users, oldest first per user. RV(keys[].access_key_id) is masked (first 4 and last 4
      characters); no secret is ever returned.
    - RV(keys[].used_from) and RV(keys[].outside_fleet) are there with O(activity=true).
  returned: always
  type: list
  elements: dict
  contains:
    user:
      description: The key's user.
      type: str
    access_key_id:
      description: The masked access key id.
      type: str
      sample: AKIA...WXYZ
    status:
      description: V(Active) or V(Inactive).
      type: str
    created:
      description: When the key was created (UTC, ISO 8601).
      type: str
    age_days:
      description: Whole days since its creation.
      type: int
    long_term:
      description: Whether it is a long-term key (C(AKIA...)).
      type: bool
    last_used:
      description:
        - C(GetAccessKeyLastUsed) - V(date) (null when never used since IAM tracks it), V(service), V(region)
          and V(days_ago).
      type: dict
      sample: {"date": "2026-11-30T08:00:00Z", "service": "s3", "region": "eu-west-1", "days_ago": 7}
    used_from:
      description:
        - Per instance of the fleet the key made calls from - V(instance_id), V(address) (the most frequent),
          V(addresses), V(via) (V(public), V(private) or V(vpc_endpoint)), V(calls), V(actions) (the IAM actions
          the calls needed), V(first_seen), V(last_seen).
      type: list
      elements: dict
    outside_fleet:
      description: The key's calls from addresses of no selected instance - V(calls) and the top V(addresses).
      type: dict
instances:
  description: With O(activity=true), each instance of the fleet a key was used from, with the masked keys.
  returned: always
  type: list
  elements: dict
  sample: [{"instance_id": "i-0123456789abcdef0", "keys": ["AKIA...WXYZ"]}]
counts:
  description: Counts over the users, keys and (with O(activity=true)) instances.
  returned: always
  type: dict
  sample: {"users": 3, "users_with_keys": 2, "keys": 3, "active": 3, "inactive": 0, "never_used": 0,
           "instances_selected": 4, "instances_with_keys": 2, "keys_used_from_fleet": 2}
missing_users:
  description: The users of O(user_names) that do not exist (with O(ignore_missing=true)).
  returned: always
  type: list
  elements: str
window:
  description: With O(activity=true), the window of events read (UTC).
  returned: when activity is true
  type: dict
  sample: {"start": "2026-11-07T08:00:00+00:00", "end": "2026-12-07T08:00:00+00:00", "days": 30}
source:
  description: With O(activity=true), where the events came from and how much was read.
  returned: when activity is true
  type: dict
  sample: {"type": "s3", "regions": ["eu-west-1"], "events_read": 5120, "files": 96, "api_calls": 0,
           "truncated": false, "key_events": 312}
"""

import datetime

from ansible_collections.keyless.aws.plugins.module_utils.accesskeys.inventory import inventory, validate
from ansible_collections.keyless.aws.plugins.module_utils.accesskeys.trail import trail_argument_spec
from ansible_collections.keyless.aws.plugins.module_utils.aws.module import aws_module, context, run_module
from ansible_collections.keyless.aws.plugins.module_utils.fleet.selection import selector_argument_spec


def argument_spec():
    spec = selector_argument_spec()
    spec.update(trail_argument_spec("lookup_events"))
    spec.update(
        user_names=dict(type="list", elements="str"),
        ignore_missing=dict(type="bool", default=False),
        activity=dict(type="bool", default=False),
    )
    return spec


def report_keys(module):
    params = module.params
    lookup = params["activity"] and params["source"] == "lookup_events" and not params.get("regions")
    ctx = context(module, validate(params), require_region=lookup)
    result = inventory(ctx, params, datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0))
    if (result.get("source") or {}).get("truncated"):
        module.warn("stopped after max_events=%d events: the usage covers the newest part of the window only"
                    % params["max_events"])
    result["changed"] = False
    return result


def main():
    module = aws_module(argument_spec())
    run_module(module, lambda progress: report_keys(module))


if __name__ == "__main__":
    main()
