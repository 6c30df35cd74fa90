#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ec2_fleet_preview
short_description: Predict what ec2_instance_identity would do on many account/region targets, in one process
version_added: 0.1.0
description:
  - For every target given (an account and a region, reached with its own connection options), runs
    M(keyless.aws.ec2_instance_identity) with the target's options in check mode - the same engine, the same reads,
    the same plans - and returns its result, and whether the target's fleet is converged (nothing would change, fail,
    be held back or be rolled back).
  - Every target runs in one module process, in parallel (O(concurrency)), sharing the loaded service models. For a
    converged fleet, the check-mode result is the result the module would give outside check mode;
    C(keyless.aws.converge) runs this module once on the controller for the targets its census found instances in,
    and a converged target takes the preview as its fleet step's result instead of running the fleet module (about
    1.5 s of controller CPU for a 300-instance fleet).
  - Every entry is checked before any AWS call (its connection, and the options as the module checks them); a bad
    entry fails the task and nothing is called - unless O(fail_on_target_error=false), which keeps each entry's bad
    input with the entry (its RV(targets) error; no call is made for it) and previews the others. A name missing or
    given twice always fails the task.
  - A target whose calls fail (or whose fleet has failed instances, such as C(instance_ids) not found) gets an
    C(error) - the module's failure message - and never stops the others. The task fails when any target failed
    unless O(fail_on_target_error=false).
  - Read-only, always; the task never reports a change.
author: keyless.aws maintainers (@keyless-aws)
options:
  targets:
    description: One entry per account/region target.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The target's name (its inventory host name); each name once.
        type: str
        required: true
      connection:
        description:
          - The target's connection options, each overriding the module's own (O(region), O(profile),
            O(endpoint_url), O(assume_role_arn), O(assume_role_session_name), O(validate_certs), O(retry_mode),
            O(max_attempts)); a null value keeps the module's.
          - The external id is not one of them - give it as O(targets[].assume_role_external_id), which is never logged.
        type: dict
        default: {}
      assume_role_external_id:
        description: The external id of the target's C(assume_role_arn), when the role requires one. Never logged or
          returned.
        type: str
      options:
        description:
          - The options of M(keyless.aws.ec2_instance_identity) for this target (its selector, C(instance_profile),
            the metadata options, the safe-rollout and execution options), but the connection options; a null option
            is not given.
        type: dict
        required: true
  concurrency:
    description: Targets previewed at the same time (1 to 64).
    type: int
    default: 16
  fail_on_target_error:
    description:
      - Whether the task fails when a target could not be previewed (the others are previewed all the same).
      - V(false) also keeps an entry's bad input with the entry instead of failing the task before any call.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Reads only, in and out of check mode.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
notes:
  - Needs what M(keyless.aws.ec2_instance_identity) needs to read - C(ec2:DescribeInstances),
    C(ec2:DescribeIamInstanceProfileAssociations), C(iam:GetInstanceProfile), and with C(imdsv1_usage_check)
    C(cloudwatch:GetMetricData) - and C(sts:AssumeRole) on each target's C(assume_role_arn).
  - A preview is a snapshot - an instance launched or changed after it is converged by the next run.
extends_documentation_fragment:
  - keyless.aws.aws
"""

EXAMPLES = r"""
- name: Which fleets of two regions still need IMDSv2 and the profile
  keyless.aws.ec2_fleet_preview:
    targets:
      - name: shop-prod-eu-west-1
        connection: {region: eu-west-1, assume_role_arn: "arn:aws:iam::111122223333:role/keyless-deployer"}
        options: &shop_fleet
          tags: {App: shop}
          instance_profile: ShopAppRole
          http_tokens: required
      - name: shop-prod-us-east-1
        connection: {region: us-east-1, assume_role_arn: "arn:aws:iam::111122223333:role/keyless-deployer"}
        options: *shop_fleet
  register: shop_preview

- name: Show the targets with something to converge
  ansible.builtin.debug:
    msg: "{{ shop_preview.targets | dict2items | rejectattr('value.converged') | map(attribute='key') | list }}"
"""

RETURN = r"""
targets:
  description: One entry per target, keyed by its name.
  returned: always
  type: dict
  sample:
    shop-prod-eu-west-1: {converged: true, warnings: [], error: null,
                          result: {changed: false, summary: {total: 12, unchanged: 12}, instances: []}}
  contains:
    result:
      description: The result M(keyless.aws.ec2_instance_identity) returns in check mode for the target (C(changed),
        RV(keyless.aws.ec2_instance_identity#module:instances), RV(keyless.aws.ec2_instance_identity#module:summary),
        ...); null when the target failed.
      type: dict
    converged:
      description: Whether nothing would change, fail, be held back (an instance of an owner's left to it included) or
        be rolled back (the check-mode result is then what the module would return outside check mode).
      type: bool
    warnings:
      description: The warnings of the entry (also given as the task's warnings, prefixed with its name).
      type: list
      elements: str
    error:
      description: Why the target failed (the module's failure message), or null.
      type: str
converged:
  description: The names of the converged targets, in the order given.
  returned: always
  type: list
  elements: str
failed_targets:
  description: The names of the targets that failed, in the order given.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.keyless.aws.plugins.module_utils.aws.module import aws_module, fail_for_entries, run_entries, run_module
from ansible_collections.keyless.aws.plugins.module_utils.fleet import preview


def argument_spec():
    return dict(
        targets=dict(type="list", elements="dict", required=True, options=preview.entry_spec()),
        concurrency=dict(type="int", default=16),
        fail_on_target_error=dict(type="bool", default=True),
    )


def run(module):
    rows, failed = run_entries(module, module.params["targets"], preview.prepare, preview.preview_all,
                               "fail_on_target_error")
    result = dict(changed=False, converged=[row["name"] for row in rows if row["converged"]], failed_targets=failed,
                  targets=dict((row.pop("name"), row) for row in rows))
    fail_for_entries(result, "targets", failed, "target", module.params["fail_on_target_error"])
    return result


def main():
    module = aws_module(argument_spec())
    run_module(module, lambda progress: run(module))


if __name__ == "__main__":
    main()
