# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which target of each account converges the account's IAM role and instance profile (pure).

Contract: IAM is global to an account while the inventory has one target per account and region; in one run the
role and profile of an account are converged once, by its first target (in the order given) that its census reached
(usable), and the account's
other targets use the result. Targets are grouped by (account, role name). A group whose targets declare the role
differently is refused, every one of its targets with the same message (converged one after the other, each would
undo the other's policies). A target whose account is unknown (null) leads itself: it converges IAM on its own, as
the role does without this plan.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: iam_leaders
short_description: The target of each account that converges the account's IAM role, for many targets
version_added: 0.1.0
description:
  - Used by the playbook C(keyless.aws.converge). IAM is global to an account, and the inventory has one target per
    account and region; so that the IAM role and instance profile of an account are converged once per run, the
    first target of each account and role name (in the order given; one its census reached, if any) converges them
    and the others use its result
    (the role's C(ec2_identity_iam_from)).
  - Targets of one account that declare the same role differently (another policy, path, boundary, tags...) are
    refused, each with a message naming the others.
  - A target whose account is unknown (null) converges its IAM itself.
author: keyless.aws maintainers (@keyless-aws)
options:
  _input:
    description:
      - One entry per target, in the run's order, each with C(name) (the inventory host), C(account) (12 digits or
        null), C(role_name), C(declared) (a digest of what the target declares of the role and profile) and
        optionally C(usable) (false for a target its census could not reach - it leads only when no other can).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Choose the target that converges each account's IAM role
  ansible.builtin.set_fact:
    leaders: >-
      {{ [{'name': 'shop-us-east-1', 'account': '111122223333', 'role_name': 'AppRole', 'declared': 'a1'},
          {'name': 'shop-eu-west-1', 'account': '111122223333', 'role_name': 'AppRole', 'declared': 'a1'}]
         | keyless.aws.iam_leaders }}
  # shop-eu-west-1 -> {leader: shop-us-east-1, error: null}
"""

RETURN = r"""
_value:
  description: For each target, C(leader) (the target that converges its account's role; itself for the first) and
    C(error) (null, or why the target cannot be converged).
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text


def iam_leaders(targets):
    if isinstance(targets, (str, bytes)) or not hasattr(targets, "__iter__"):
        raise AnsibleFilterError("iam_leaders: the input must be a list of {name, account, role_name, declared}")
    groups, order = {}, []
    for entry in targets:
        if not isinstance(entry, dict) or not entry.get("name"):
            raise AnsibleFilterError("iam_leaders: every entry needs a name, not %r" % (entry,))
        name = to_text(entry["name"])
        account = entry.get("account")
        key = (to_text(account), to_text(entry.get("role_name"))) if account else ("self", name)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append((name, to_text(entry.get("declared")), entry.get("usable", True) is not False))
    out = {}
    for key in order:
        members = groups[key]
        names = [name for name, _declared, _usable in members]
        # the first target that could be reached (its census worked), else the first
        leader = next((name for name, _declared, usable in members if usable), names[0])
        if len(set(declared for _name, declared, _usable in members)) > 1:
            message = ("the targets %s of account %s declare the IAM role %s differently (its path, description, trust, "
                       "policies, boundary, tags or instance profile): IAM is global to an account, so they would undo "
                       "each other; give them the same ec2_identity_* IAM variables, or different role names"
                       % (", ".join(names), key[0], key[1]))
            out.update((name, {"leader": None, "error": message}) for name in names)
        else:
            out.update((name, {"leader": leader, "error": None}) for name in names)
    return out


class FilterModule(object):
    """keyless.aws filters."""

    def filters(self):
        return {"iam_leaders": iam_leaders}
