#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: iam_role_info
short_description: Read IAM roles with their tags, policies and instance profiles
version_added: 0.1.0
description:
  - Reads one role by name, or every role under a path prefix.
  - For each role the tags are really read with C(ListRoleTags) (C(ListRoles) returns none), and the
    attached managed policies, the inline policies with their documents and the instance profiles that
    hold the role are read too.
author: keyless.aws maintainers (@keyless-aws)
options:
  name:
    description:
      - The name of one role to read. When the role does not exist RV(roles) is empty.
      - Mutually exclusive with O(path_prefix).
    type: str
    aliases: [role_name]
  path_prefix:
    description:
      - Read every role whose path starts with this prefix, for example C(/app/). Used when O(name) is
        not given.
    type: str
    default: /
attributes:
  check_mode:
    support: full
    description: The module only reads; it behaves the same in check mode.
  diff_mode:
    support: N/A
    description: The module changes nothing, so there is no diff.
notes:
  - Needs C(iam:ListRoles) (for O(path_prefix)), C(iam:GetRole), C(iam:ListAttachedRolePolicies),
    C(iam:ListRolePolicies), C(iam:GetRolePolicy), C(iam:ListRoleTags) and C(iam:ListInstanceProfilesForRole).
extends_documentation_fragment:
  - keyless.aws.aws
"""

EXAMPLES = r"""
- name: Read one role
  keyless.aws.iam_role_info:
    name: AppInstanceRole
  register: app_role_info

- name: Fail when the role is missing
  ansible.builtin.assert:
    that: app_role_info.roles | length == 1

- name: Read every role under /app/
  keyless.aws.iam_role_info:
    path_prefix: /app/
  register: app_roles
"""

RETURN = r"""
roles:
  description: The roles found, sorted by name; each has the same shape as the C(role) return value of
    M(keyless.aws.iam_role).
  returned: always
  type: list
  elements: dict
  contains:
    arn:
      description: The ARN of the role.
      type: str
      sample: arn:aws:iam::123456789012:role/AppInstanceRole
    role_name:
      description: The name of the role.
      type: str
      sample: AppInstanceRole
    role_id:
      description: The stable id of the role.
      type: str
      sample: AROAEXAMPLEID1234567
    path:
      description: The path of the role.
      type: str
      sample: /
    description:
      description: The description of the role.
      type: str
      sample: Role for the app's EC2 instances
    max_session_duration:
      description: The maximum session duration in seconds.
      type: int
      sample: 3600
    assume_role_policy_document:
      description: The trust policy.
      type: dict
      sample: {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
               "Action": "sts:AssumeRole"}]}
    permissions_boundary:
      description: The ARN of the permissions boundary, or null.
      type: str
      sample: null
    managed_policies:
      description: The ARNs of the attached managed policies, sorted.
      type: list
      elements: str
      sample: [arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy]
    inline_policies:
      description: The inline policies, name to document.
      type: dict
      sample: {"AppAccess": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket",
               "Resource": "arn:aws:s3:::my-app-data"}]}}
    tags:
      description: The tags of the role.
      type: dict
      sample: {"app": "my-app"}
    instance_profiles:
      description: The instance profiles that hold the role.
      type: list
      elements: dict
      sample: [{"instance_profile_name": "AppInstanceProfile", "arn": "arn:aws:iam::123456789012:instance-profile/AppInstanceProfile",
                "instance_profile_id": "AIPAEXAMPLEID1234567"}]
    create_date:
      description: When the role was created (ISO 8601).
      type: str
      sample: "2026-12-01T08:00:00+00:00"
"""

from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import validate_iam_name, validate_iam_path
from ansible_collections.keyless.aws.plugins.module_utils.aws.module import aws_module, context, run_module
from ansible_collections.keyless.aws.plugins.module_utils.aws.parallel import parallel_map
from ansible_collections.keyless.aws.plugins.module_utils.iam import roles

PARALLEL_READS = 4  # each role needs five reads; a few at a time keeps IAM from throttling us


def argument_spec():
    return dict(
        name=dict(type="str", aliases=["role_name"]),
        path_prefix=dict(type="str", default="/"),
    )


def validate(params):
    if params.get("name") is not None:
        return [validate_iam_name(params["name"], "name", 64)]
    return [validate_iam_path(params["path_prefix"], "path_prefix")]


def read_roles(client, params):
    if params.get("name") is not None:
        role = roles.observe_role(client, params["name"])
        return [role] if role else []
    names = roles.list_role_names(client, params["path_prefix"])
    found = parallel_map(lambda n: roles.observe_role(client, n), names, PARALLEL_READS)
    # A role deleted between the listing and the reads is simply not there any more.
    return [r for r in found if r]


def read(module):
    ctx = context(module, validate(module.params), default_region="us-east-1")
    return dict(changed=False, roles=read_roles(ctx.client("iam"), module.params))


def main():
    module = aws_module(argument_spec(), mutually_exclusive=[("name", "path_prefix")])
    run_module(module, lambda progress: read(module))


if __name__ == "__main__":
    main()
