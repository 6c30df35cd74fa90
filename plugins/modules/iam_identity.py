#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: iam_identity
short_description: Converge the IAM role and instance profile of an EC2 identity in many accounts, in one process
version_added: 0.1.0
description:
  - For every account given (reached with its own connection options), converges an IAM role as
    M(keyless.aws.iam_role) does and its instance profile as M(keyless.aws.iam_instance_profile) does - the same
    options, checks, refusals (an admin grant without C(allow_admin)), plans, check-mode predictions and diffs - in
    one module process for all the accounts, in parallel (O(concurrency)).
  - C(keyless.aws.converge) runs it once on the controller for the first target of each account, so that an
    organization pays one process for its IAM roles instead of two per account (about 0.5 s of controller CPU each
    before the first call), and IAM calls per account do not grow with the account's regions.
  - Every entry is checked before any AWS call; a bad entry fails the task and nothing is called - unless
    O(fail_on_account_error=false), which keeps each entry's bad input with the entry (its RV(accounts) error; no
    call is made for it) and converges the others. A name missing or given twice always fails the task.
  - An account whose calls fail gets an C(error) in RV(accounts) - in the modules' failure shape, with what was done
    and what was not - and never stops the others. The task fails when any account failed unless
    O(fail_on_account_error=false).
author: keyless.aws maintainers (@keyless-aws)
options:
  accounts:
    description: One entry per account (and role).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The entry's name (C(keyless.aws.converge) gives the target that converges the account's role);
          each name once.
        type: str
        required: true
      connection:
        description:
          - The account's connection options, each overriding the module's own (O(region), O(profile),
            O(endpoint_url), O(assume_role_arn), O(assume_role_session_name), O(validate_certs), O(retry_mode),
            O(max_attempts)); a null value keeps the module's.
          - The external id is not one of them - give it as O(accounts[].assume_role_external_id), which is never
            logged.
        type: dict
        default: {}
      assume_role_external_id:
        description: The external id of the entry's C(assume_role_arn), when the role requires one. Never logged or
          returned.
        type: str
      role:
        description:
          - The role, with the options of M(keyless.aws.iam_role) (C(name), C(path), C(managed_policies),
            C(inline_policies), C(tags), C(allow_admin), ...) but C(state) - this module converges; a null option is
            not given.
        type: dict
        required: true
      instance_profile:
        description:
          - The instance profile, with the options of M(keyless.aws.iam_instance_profile) (C(name), C(path), C(tags),
            C(purge_tags), C(wait), C(wait_timeout)) but C(role) (the entry's role), C(state) and C(force).
          - Without C(name), the profile is named after the role.
        type: dict
        default: {}
  concurrency:
    description: Accounts converged at the same time (1 to 64).
    type: int
    default: 16
  fail_on_account_error:
    description:
      - Whether the task fails when an account's role or profile could not be converged (the others are converged
        all the same).
      - V(false) also keeps an entry's bad input with the entry instead of failing the task before any call
        (C(keyless.aws.converge) sets it, so that one account's bad policy fails that account's targets only).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Reads only, and returns what would change with the predicted ARNs, as the two modules do.
  diff_mode:
    support: full
    description: The role's and the profile's declared fields before and after, for every account.
notes:
  - Needs in every account what M(keyless.aws.iam_role) and M(keyless.aws.iam_instance_profile) need, and
    C(sts:AssumeRole) on each entry's C(assume_role_arn).
extends_documentation_fragment:
  - keyless.aws.aws
"""

EXAMPLES = r"""
- name: The same role and profile in two accounts, in one process
  keyless.aws.iam_identity:
    accounts:
      - name: shop-prod
        connection: {assume_role_arn: "arn:aws:iam::111122223333:role/keyless-deployer"}
        role: &shop_role
          name: ShopAppRole
          managed_policies: [AmazonSSMManagedInstanceCore]
          inline_policies:
            read-config:
              Version: "2012-10-17"
              Statement:
                - {Effect: Allow, Action: ["s3:GetObject"], Resource: "arn:aws:s3:::shop-config/*"}
          tags: {App: shop}
      - name: shop-staging
        connection: {assume_role_arn: "arn:aws:iam::444455556666:role/keyless-deployer"}
        role: *shop_role
        instance_profile: {name: ShopAppProfile}
  register: shop_iam

- name: Show the instance profile of each account
  ansible.builtin.debug:
    msg: "{{ shop_iam.accounts | dict2items | map(attribute='value.instance_profile_arn') | list }}"
"""

RETURN = r"""
accounts:
  description: One entry per account entry, keyed by its name.
  returned: always
  type: dict
  sample:
    shop-prod: {account: "111122223333", role_name: ShopAppRole,
                role_arn: "arn:aws:iam::111122223333:role/ShopAppRole", instance_profile_name: ShopAppRole,
                instance_profile_arn: "arn:aws:iam::111122223333:instance-profile/ShopAppRole", changed: false,
                changes: [], warnings: [], error: null}
  contains:
    account:
      description: The account id (from the role's ARN); null when the entry failed.
      type: str
    role_name:
      description: The role's name.
      type: str
    role_arn:
      description: The role's ARN (predicted in check mode for a role to create); null when the entry failed.
      type: str
    instance_profile_name:
      description: The instance profile's name.
      type: str
    instance_profile_arn:
      description: The profile's ARN (predicted in check mode); null when the entry failed.
      type: str
    changed:
      description: Whether the role or the profile changed (would change in check mode).
      type: bool
    role:
      description: The role as M(keyless.aws.iam_role) returns it (RV(keyless.aws.iam_role#module:role)).
      type: dict
    instance_profile:
      description: The profile as M(keyless.aws.iam_instance_profile) returns it.
      type: dict
    changes:
      description: The changes made (planned in check mode), the role's then the profile's; on a failure, those
        made before it.
      type: list
      elements: dict
    not_done:
      description: On a failure, the changes planned and not made.
      type: list
      elements: dict
    access_analyzer_findings:
      description: The role's IAM Access Analyzer findings (C(validate_with_access_analyzer)).
      type: list
      elements: dict
    warnings:
      description: The warnings of the entry (also given as the task's warnings, prefixed with its name).
      type: list
      elements: str
    error:
      description: Why the entry failed (the modules' failure message), or null.
      type: str
failed_accounts:
  description: The names of the entries that failed, in the order given.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.keyless.aws.plugins.module_utils.aws.module import aws_module, fail_for_entries, run_entries, run_module
from ansible_collections.keyless.aws.plugins.module_utils.iam import identity


def argument_spec():
    return dict(
        accounts=dict(type="list", elements="dict", required=True, options=identity.entry_spec()),
        concurrency=dict(type="int", default=16),
        fail_on_account_error=dict(type="bool", default=True),
    )


def converge(module):
    # without fail_on_account_error, an entry's bad input is its own row's error, as its failed calls are
    rows, failed = run_entries(
        module, module.params["accounts"],
        lambda entries, base, isolate: identity.prepare(entries, base, module.check_mode, isolate=isolate),
        identity.converge_all, "fail_on_account_error")
    diffs = [d for row in rows for d in row.pop("diff")]
    result = dict(changed=any(row["changed"] for row in rows),
                  accounts=dict((row.pop("name"), row) for row in rows), failed_accounts=failed, diff=diffs)
    fail_for_entries(result, "accounts", failed, "account", module.params["fail_on_account_error"])
    return result


def main():
    module = aws_module(argument_spec())
    run_module(module, lambda progress: converge(module))


if __name__ == "__main__":
    main()
