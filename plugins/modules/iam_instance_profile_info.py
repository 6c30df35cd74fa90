#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: iam_instance_profile_info
short_description: List IAM instance profiles with their role and tags
version_added: 0.1.0
description:
  - Reads one instance profile by name, or every profile under a path prefix (all of them when neither
    is given), with the role each holds and its tags.
  - C(ListInstanceProfiles) returns no tags on AWS, so every profile is read with C(GetInstanceProfile)
    and the tags are real, never an empty placeholder.
author: keyless.aws maintainers (@keyless-aws)
options:
  name:
    description:
      - The name of one instance profile. A profile that does not exist gives an empty list.
      - Mutually exclusive with O(path_prefix).
    type: str
  path_prefix:
    description:
      - List the profiles whose path starts with this, for example V(/app/). V(/) lists every profile.
      - Mutually exclusive with O(name).
    type: str
attributes:
  check_mode:
    support: full
    description: Reads only; check mode changes nothing.
  diff_mode:
    support: none
    description: Reads only; there is nothing to diff.
notes:
  - "Permissions: C(iam:GetInstanceProfile) and, to list, C(iam:ListInstanceProfiles)."
extends_documentation_fragment:
  - keyless.aws.aws
"""

EXAMPLES = r"""
- name: The profile of the documented setup
  keyless.aws.iam_instance_profile_info:
    name: MyAppProfile
  register: found

- name: Fail when it does not hold MyAppRole
  ansible.builtin.assert:
    that: found.instance_profiles[0].roles == ['MyAppRole']

- name: Every profile under /app/
  keyless.aws.iam_instance_profile_info:
    path_prefix: /app/
"""

RETURN = r"""
instance_profiles:
  description: The profiles found, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    arn:
      description: The profile's ARN.
      type: str
    instance_profile_name:
      description: The name.
      type: str
    instance_profile_id:
      description: The stable id IAM assigned.
      type: str
    path:
      description: The IAM path.
      type: str
    roles:
      description: Names of the roles in the profile (zero or one).
      type: list
      elements: str
    role_arn:
      description: ARN of the role in the profile, or null.
      type: str
    tags:
      description: The profile's tags.
      type: dict
    create_date:
      description: When the profile was created (ISO 8601).
      type: str
  sample:
    - arn: arn:aws:iam::123456789012:instance-profile/MyAppProfile
      instance_profile_name: MyAppProfile
      instance_profile_id: AIPAEXAMPLEID1234567
      path: /
      roles: [MyAppRole]
      role_arn: arn:aws:iam::123456789012:role/MyAppRole
      tags: {Application: my-app}
      create_date: "2026-12-01T08:00:00+00:00"
"""

from ansible_collections.keyless.aws.plugins.module_utils.aws import rules
from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import validate_iam_name
from ansible_collections.keyless.aws.plugins.module_utils.aws.module import aws_module, context, run_module
from ansible_collections.keyless.aws.plugins.module_utils.iam import profiles as ip


def argument_spec():
    return dict(name=dict(type="str"), path_prefix=dict(type="str"))


def validate(params):
    errors = []
    if params.get("name") is not None:
        errors.append(validate_iam_name(params["name"], "name", 128))
    prefix = params.get("path_prefix")
    if prefix is not None and not rules.is_iam_path_prefix(prefix):
        errors.append("path_prefix=%r is not an IAM path prefix: it must start with '/' and use printable ASCII "
                      "without spaces, at most 512 characters (e.g. '/app/')" % prefix)
    return [e for e in errors if e]


def read(module):
    params = module.params
    iam = context(module, validate(params)).client("iam")
    if params.get("name"):
        found = ip.observe_profile(iam, params["name"])
        profiles = [found] if found else []
    else:
        profiles = ip.list_profiles(iam, params.get("path_prefix"))
    return dict(changed=False, instance_profiles=sorted(profiles, key=lambda p: p["instance_profile_name"]))


def main():
    module = aws_module(argument_spec(), mutually_exclusive=[("name", "path_prefix")])
    run_module(module, lambda progress: read(module))


if __name__ == "__main__":
    main()
