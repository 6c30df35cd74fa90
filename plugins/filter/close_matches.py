# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The names closest to a misspelt one (difflib.get_close_matches), for "did you mean" messages."""

from __future__ import annotations

DOCUMENTATION = r"""
name: close_matches
short_description: The valid names closest to a misspelt one
version_added: 0.1.0
description:
  - Returns the names of O(possibilities) that are closest to the input, best first, with the semantics of
    Python's C(difflib.get_close_matches) (similarity ratio, at most O(n) names, none below O(cutoff)).
  - With O(prefix), a prefix shared by the input and a possibility is left out of the comparison, so a
    long common prefix (for example C(ec2_identity_)) does not make every name look alike.
  - The role C(keyless.aws.ec2_identity) uses it to name the variable meant by a misspelt one.
author: keyless.aws maintainers (@keyless-aws)
positional: possibilities
options:
  _input:
    description: The misspelt name.
    type: str
    required: true
  possibilities:
    description: The valid names.
    type: list
    elements: str
    required: true
  n:
    description: The most names to return.
    type: int
    default: 3
  cutoff:
    description: The lowest similarity ratio (0 to 1) a name needs to be returned.
    type: float
    default: 0.6
  prefix:
    description: A prefix left out of the comparison where both names start with it.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Suggest the variable that was meant
  ansible.builtin.debug:
    msg: >-
      did you mean {{ 'ec2_identity_role_nmae' | keyless.aws.close_matches(['ec2_identity_role_name', 'ec2_identity_region'],
      prefix='ec2_identity_') | join(' or ') }}?

- name: Only the best match, and only a close one
  ansible.builtin.debug:
    msg: "{{ 'regoin' | keyless.aws.close_matches(['region', 'profile', 'endpoint_url'], n=1, cutoff=0.8) }}"
"""

RETURN = r"""
_value:
  description: The closest names of O(possibilities), best first; empty when none is close enough.
  type: list
  elements: str
"""

import difflib

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text


def _strip(name, prefix):
    return name[len(prefix):] if prefix and name.startswith(prefix) else name


def close_matches(word, possibilities, n=3, cutoff=0.6, prefix=""):
    """difflib.get_close_matches(word, possibilities, n, cutoff), comparing the names without `prefix`."""
    if not isinstance(possibilities, (list, tuple, set, frozenset)):
        raise AnsibleFilterError("close_matches: possibilities must be a list of names, not %s"
                                 % type(possibilities).__name__)
    try:
        n = int(n)
        cutoff = float(cutoff)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("close_matches: n must be a whole number and cutoff a number: %s" % exc)
    if n < 1 or not 0.0 <= cutoff <= 1.0:
        raise AnsibleFilterError("close_matches: n=%r must be at least 1 and cutoff=%r from 0 to 1" % (n, cutoff))
    word = to_text(word)
    prefix = to_text(prefix or "")
    if not word.startswith(prefix):
        prefix = ""
    names = sorted(set(to_text(p) for p in possibilities))
    by_key = {}
    for name in names:
        by_key.setdefault(_strip(name, prefix), name)
    matches = difflib.get_close_matches(_strip(word, prefix), list(by_key), n=n, cutoff=cutoff)
    return [by_key[key] for key in matches]


class FilterModule(object):
    """keyless.aws filters."""

    def filters(self):
        return {"close_matches": close_matches}
