#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: iam_access_key
short_description: Retire an IAM user's access key safely - deactivate after a quiet period, reactivate, delete
version_added: 0.2.0
description:
  - Changes the status of one access key of an IAM user, only when it is safe, and never creates a key (so no secret
    access key is ever read or returned).
  - O(state=inactive) deactivates the key only when it has been quiet for O(quiet_days) days - its
    C(GetAccessKeyLastUsed) date is older than that, or, never used, the key itself is - and, with a CloudTrail
    source (O(source)), it made no call since O(since) (for example since the instance's role took over).
    Otherwise the task fails naming the last use (date, service, region, or the last CloudTrail call and the
    address and instance it came from). IAM keeps no date of deactivation, so the module records it as a tag of the
    user, C(keyless:key-inactive:<masked id>), with the time as value.
  - O(state=active) reactivates the key and removes that tag - the rollback.
  - O(state=absent) deletes a key only when it is already C(Inactive) and its tag is at least O(inactive_days) old
    (O(force=true) skips the tag's check, never the C(Inactive) one). A key that is gone already needs nothing.
  - The key is named by its full id or by the masked id (C(AKIA...WXYZ)) that M(keyless.aws.iam_access_key_info)
    reports, matched against the user's keys. Every output shows the masked id only.
author: keyless.aws maintainers (@keyless-aws)
options:
  user:
    description:
      - The IAM user that owns the key.
    type: str
    required: true
  access_key_id:
    description:
      - The key, by its full id (C(AKIA) and 16 characters) or masked id (C(AKIA...WXYZ)); a masked id must match
        exactly one of the user's keys.
      - Give the masked id to keep the full id out of the task's own invocation (which Ansible echoes with C(-v)); the
        module's results show the masked id only.
    type: str
    required: true
  state:
    description:
      - V(inactive) deactivates the key after the quiet period; V(active) reactivates it; V(absent) deletes it after
        O(inactive_days) of being inactive.
    type: str
    choices: [active, inactive, absent]
    default: inactive
  quiet_days:
    description:
      - With O(state=inactive), the days the key must have gone unused before it is deactivated (0 to 3650).
    type: int
    default: 30
  inactive_days:
    description:
      - With O(state=absent), the days the key must have been inactive (since this module deactivated it, by the
        user's C(keyless:key-inactive) tag) before it is deleted (0 to 3650).
    type: int
    default: 30
  force:
    description:
      - With O(state=absent), delete an C(Inactive) key whose tag is missing or younger than O(inactive_days).
    type: bool
    default: false
  since:
    description:
      - With a CloudTrail O(source), the time (ISO 8601) from which the key must have made no call, for example
        when the instance's role took over. Default is O(quiet_days) days ago.
    type: str
  source:
    description:
      - Where to look for the key's calls before deactivating it (with O(state=inactive) only). Not set, only
        C(GetAccessKeyLastUsed) is read.
      - V(lookup_events) calls C(LookupEvents) (90 days of management events); V(s3) and V(local) read log files.
    type: str
    choices: [lookup_events, s3, local]
  regions:
    description:
      - The regions to read. Default with O(source=lookup_events) is the connection's region; with log files every
        region folder of the layout. Calls to IAM and other global services are recorded in C(us-east-1).
    type: list
    elements: str
  max_events:
    description:
      - Stop after reading this many events; a read cut short refuses to deactivate the key when it found no call.
    type: int
    default: 100000
attributes:
  check_mode:
    support: full
    description: Reads the key and returns the plan (and a refusal, when there is one); changes nothing.
  diff_mode:
    support: full
    description: Shows the key's status and its deactivation date before and after.
notes:
  - Needs C(iam:ListAccessKeys), C(iam:GetAccessKeyLastUsed), C(iam:ListUserTags), and to change,
    C(iam:UpdateAccessKey), C(iam:DeleteAccessKey), C(iam:TagUser), C(iam:UntagUser); with a CloudTrail source
    C(cloudtrail:LookupEvents) or read access to the log files, and with a selector C(ec2:DescribeInstances).
  - The selector options (O(instance_ids), O(filters), O(tags), O(all_instances)) only name the instance a refusing
    CloudTrail call came from; they need O(source).
extends_documentation_fragment:
  - keyless.aws.aws
  - keyless.aws.fleet
  - keyless.aws.cloudtrail
"""

EXAMPLES = r"""
- name: Deactivate the deploy key once it has been unused for 30 days and made no call since the role took over
  keyless.aws.iam_access_key:
    user: app-deploy
    access_key_id: AKIA...WXYZ
    state: inactive
    quiet_days: 30
    source: s3
    s3_bucket: org-cloudtrail-logs
    since: "2026-11-01T00:00:00Z"

- name: Roll back - make the key active again
  keyless.aws.iam_access_key:
    user: app-deploy
    access_key_id: AKIA...WXYZ
    state: active

- name: Delete it after 30 days of being inactive, previewed first
  keyless.aws.iam_access_key:
    user: app-deploy
    access_key_id: AKIA...WXYZ
    state: absent
    inactive_days: 30
  check_mode: true
  diff: true
"""

RETURN = r"""
changed:
  description: Whether the key or its deactivation date changed (in check mode - would change).
  returned: always
  type: bool
user:
  description: The user.
  returned: always
  type: str
key:
  description:
    - The key after the task (predicted in check mode), its id masked; null when it does not exist (any more).
    - V(inactive_since) is the deactivation date this module recorded, or null.
  returned: always
  type: dict
  sample: {"user": "app-deploy", "access_key_id": "AKIA...WXYZ", "status": "Inactive", "created": "2025-01-10T09:00:00Z",
           "age_days": 696, "long_term": true, "inactive_since": "2026-12-07T08:00:00Z",
           "last_used": {"date": "2026-09-01T10:00:00Z", "service": "s3", "region": "eu-west-1", "days_ago": 97}}
changes:
  description: The calls made (in check mode - that would be made), each with the masked key or the user as target.
  returned: always
  type: list
  elements: dict
  sample: [{"action": "update_access_key", "operation": "UpdateAccessKey", "target": "AKIA...WXYZ", "before": "Active",
            "after": "Inactive"}]
diff:
  description: The key's status and deactivation date, before and after.
  returned: always
  type: dict
  sample: {"before": {"status": "Active", "inactive_since": null},
           "after": {"status": "Inactive", "inactive_since": "2026-12-07T08:00:00Z"}}
activity:
  description: With a CloudTrail source and an active key, what was read - V(since), V(calls), V(events_read), V(truncated).
  returned: when source is set and the key was active
  type: dict
  sample: {"since": "2026-11-01T00:00:00Z", "calls": 0, "events_read": 5120, "truncated": false}
"""

from ansible_collections.keyless.aws.plugins.module_utils.accesskeys.retire import converge
from ansible_collections.keyless.aws.plugins.module_utils.accesskeys.trail import trail_argument_spec
from ansible_collections.keyless.aws.plugins.module_utils.aws.module import aws_module, run_module
from ansible_collections.keyless.aws.plugins.module_utils.fleet.selection import selector_argument_spec


def argument_spec():
    spec = selector_argument_spec()
    spec.update(trail_argument_spec(None))
    spec.pop("days")  # the window is `since` to now
    spec.update(
        user=dict(type="str", required=True),
        # not no_log: Ansible would then censor every occurrence of the value, the masked id this module reports too
        access_key_id=dict(type="str", required=True, no_log=False),
        state=dict(type="str", choices=["active", "inactive", "absent"], default="inactive"),
        quiet_days=dict(type="int", default=30),
        inactive_days=dict(type="int", default=30),
        force=dict(type="bool", default=False),
        since=dict(type="str"),
    )
    return spec


def main():
    module = aws_module(argument_spec())
    run_module(module, lambda progress: converge(module, progress))


if __name__ == "__main__":
    main()
