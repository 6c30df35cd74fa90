#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ec2_fleet_census
short_description: Find which of many account/region targets select no instance, in one process
version_added: 0.1.0
description:
  - For every target given (an account and a region, reached with its own connection options, and an instance
    selector), finds whether the selector matches any instance, with the fleet modules' filters
    (M(keyless.aws.ec2_instance_identity)), reading as little as it can - C(DescribeInstances) with the smallest page
    (5 instances), then pages of 1,000 only while EC2 answers an empty page with a C(NextToken) (it filters a page
    after reading it). When every match was read (RV(targets.complete)), the counts are exact - selected (in
    O(targets[].states)), skipped (in another state) and missing (named in C(instance_ids) but not found); a target
    with more instances has them null (its fleet step reads them all anyway).
  - A target whose selector finds nothing is V(idle) in RV(targets). C(keyless.aws.converge) runs this module once on
    the controller before the targets; an idle target then skips the fleet module (one module process fewer), so
    the many empty regions of an organization cost what their work costs.
  - All the targets are probed in one process, in parallel (O(concurrency)); the targets of one account (one
    O(targets[].connection) but for its region) share one C(AssumeRole), and every target shares the loaded EC2
    model.
  - A target that cannot be counted (no access, an opt-in region not enabled, throttled past the retries) gets an
    C(error) and is not idle; it never stops the others, and the task does not fail for it.
  - Read-only.
author: keyless.aws maintainers (@keyless-aws)
options:
  targets:
    description:
      - The targets to count. Every entry is checked before any AWS call.
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
          - Without a region here or in the module's O(region), the profile's region (the AWS config file), as every
            module takes it; a target with none at all gets an error.
        type: dict
        default: {}
      selector:
        description:
          - The target's instance selector, as the fleet modules take it - C(instance_ids), C(filters), C(tags),
            C(all_instances) (alone, and only when true - every instance of the region).
          - An empty selector is refused, as the fleet modules refuse it.
        type: dict
        default: {}
      states:
        description: The instance states the target converges (the fleet modules' C(states)).
        type: list
        elements: str
        default: [running, stopped]
      count:
        description:
          - V(false) for a target that converges no instance (IAM only) - it is not counted (no call but, at most,
            C(GetCallerIdentity)), only its account is found, and it is never idle.
        type: bool
        default: true
      assume_role_external_id:
        description:
          - The external id of the target's C(assume_role_arn) (its connection's), when the role requires one.
          - Never logged or returned.
        type: str
      account:
        description:
          - The target's account id, when the inventory knows it (C(aws_account_id)) and the connection has no
            C(assume_role_arn) that says it; otherwise the module asks STS (C(GetCallerIdentity), once per connection).
        type: str
  concurrency:
    description: Targets counted at the same time (1 to 64).
    type: int
    default: 16
attributes:
  check_mode:
    support: full
    description: Read-only; the same calls and result in check mode.
  diff_mode:
    support: none
    description: Read-only; nothing to show.
notes:
  - Needs C(ec2:DescribeInstances) in every target, and C(sts:AssumeRole) on each target's O(targets[].connection)
    C(assume_role_arn); C(sts:GetCallerIdentity) needs no permission.
  - The counts are a snapshot; an instance launched after the census is converged by the next run.
extends_documentation_fragment:
  - keyless.aws.aws
"""

EXAMPLES = r"""
- name: Count the instances tagged App=shop in two accounts and two regions
  keyless.aws.ec2_fleet_census:
    targets:
      - name: shop-us-east-1
        connection: {region: us-east-1, assume_role_arn: "arn:aws:iam::111122223333:role/keyless-deployer"}
        selector: {tags: {App: shop}}
      - name: shop-eu-west-1
        connection: {region: eu-west-1, assume_role_arn: "arn:aws:iam::111122223333:role/keyless-deployer"}
        selector: {tags: {App: shop}}
      - name: data-us-east-1
        connection: {region: us-east-1, assume_role_arn: "arn:aws:iam::444455556666:role/keyless-deployer"}
        selector: {tags: {App: shop}}
        states: [running]
  register: census

- name: Show the targets with nothing to converge
  ansible.builtin.debug:
    msg: "{{ census.idle }}"
"""

RETURN = r"""
targets:
  description: One entry per target, keyed by its name.
  returned: always
  type: dict
  sample:
    shop-us-east-1: {region: us-east-1, account: "111122223333", counted: true, complete: false, selected: null,
                     skipped: null, missing: null, idle: false, error: null}
    shop-eu-west-1: {region: eu-west-1, account: "111122223333", counted: true, complete: true, selected: 0, skipped: 0,
                     missing: 0, idle: true, error: null}
  contains:
    region:
      description: The target's region.
      type: str
    account:
      description: The target's account (from its C(assume_role_arn), its O(targets[].account), else STS).
      type: str
    counted:
      description: False for a target given with O(targets[].count=false).
      type: bool
    complete:
      description: Whether every instance the selector matches was read (then the counts below are exact).
      type: bool
    selected:
      description: Instances the selector selects in the target's states; null when not RV(targets.complete).
      type: int
    skipped:
      description: Instances the selector finds in another state; null when not RV(targets.complete).
      type: int
    missing:
      description: Instance ids of C(instance_ids) that were not found; null when not RV(targets.complete).
      type: int
    idle:
      description: True when the selector finds nothing at all (and the count did not fail).
      type: bool
    error:
      description: Why the target could not be counted, or null.
      type: str
idle:
  description: The names of the idle targets, in the order given.
  returned: always
  type: list
  elements: str
counts:
  description: Targets, idle ones, failed ones; instances selected over the targets whose count is complete.
  returned: always
  type: dict
  sample: {targets: 3, idle: 1, failed: 0, selected: 20}
"""

from ansible_collections.keyless.aws.plugins.module_utils.aws.connection import module_connection
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import InputError
from ansible_collections.keyless.aws.plugins.module_utils.aws.module import aws_module, run_module
from ansible_collections.keyless.aws.plugins.module_utils.aws.parallel import workers_problems
from ansible_collections.keyless.aws.plugins.module_utils.fleet import census


def argument_spec():
    return dict(
        targets=dict(type="list", elements="dict", required=True, options=census.census_argument_spec()),
        concurrency=dict(type="int", default=16),
    )


def count(module):
    params = module.params
    base = module_connection(params)
    # every bad input at once, the targets' with the module's own
    errors = workers_problems(params["concurrency"])
    errors.extend(census.validate_targets(params["targets"], base))
    if errors:
        raise InputError(errors)
    rows = census.run_census(params["targets"], base, params["concurrency"])
    return dict(
        changed=False,
        targets=dict((row.pop("name"), row) for row in [dict(r) for r in rows]),
        idle=[r["name"] for r in rows if r["idle"]],
        counts={"targets": len(rows), "idle": sum(1 for r in rows if r["idle"]),
                "failed": sum(1 for r in rows if r["error"]),
                "selected": sum(r["selected"] or 0 for r in rows)},
    )


def main():
    module = aws_module(argument_spec())
    run_module(module, lambda progress: count(module))


if __name__ == "__main__":
    main()
