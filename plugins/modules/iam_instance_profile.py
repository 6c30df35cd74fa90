#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: iam_instance_profile
short_description: Manage an IAM instance profile and the role it holds
version_added: 0.1.0
description:
  - Creates, updates and deletes an IAM instance profile, the container EC2 instances reference to
    receive a role's temporary credentials.
  - An instance profile holds at most one role. Changing O(role) removes the old role and adds the new
    one right after it (IAM refuses a second role with C(LimitExceeded)); both steps are reported in
    RV(changes).
  - By default the task waits until the profile is usable (botocore's C(instance_profile_exists)
    waiter, then several consecutive reads that show the role), so a later task that launches or
    associates an instance with it does not hit EC2's C(Invalid IAM Instance Profile name).
  - With O(state=absent) the module refuses to delete a profile that instances still use (association
    state C(associating) or C(associated) in the task's region), unless O(force=true).
author: keyless.aws maintainers (@keyless-aws)
options:
  name:
    description:
      - The name of the instance profile, up to 128 letters, digits and C(+=,.@_-).
    type: str
    required: true
  path:
    description:
      - The IAM path of the profile, for example V(/app/). Used when the profile is created; V(/) when
        left out.
      - IAM cannot change the path of an existing profile. A different path for an existing profile fails
        with a message; delete the profile and create it again to move it.
    type: str
  role:
    description:
      - The role the profile holds, by name or ARN. The profile then holds exactly this role.
      - V("") (empty string) removes any role from the profile.
      - Left out, the profile's role is not changed.
      - The role must exist (except in check mode, where a role created by an earlier task in the same
        check run is predicted).
    type: str
  tags:
    description:
      - Tags of the profile, as a mapping. Left out, tags are not changed.
      - Keys starting with C(aws:) are AWS's own and are never changed or removed.
    type: dict
  purge_tags:
    description:
      - Remove tags not listed in O(tags). Has no effect when O(tags) is left out.
    type: bool
    default: true
  state:
    description:
      - V(present) creates or updates the profile; V(absent) deletes it (after removing its role).
    type: str
    choices: [present, absent]
    default: present
  wait:
    description:
      - After creating the profile or adding a role, wait until IAM shows the profile with its role on
        three consecutive reads (IAM is eventually consistent and EC2 refuses an unpropagated profile).
      - With O(state=absent) and O(force=true), wait until the disassociated instances have let go of the
        profile before deleting it.
    type: bool
    default: true
  wait_timeout:
    description:
      - How long to wait, in seconds (1 to 3600).
    type: int
    default: 120
  force:
    description:
      - With O(state=absent), delete the profile even while instances in the task's region are associated
        with it.
      - The associated instances are disassociated first (they lose the profile's credentials), then the
        profile is deleted, so no instance is left pointing at a deleted profile. Their ids are returned in
        RV(disassociated).
      - Without it, such a profile is not deleted and the task fails listing the instances.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description:
      - Makes no change and returns the predicted profile; a profile that would be created gets its ARN
        built from the account id, so later tasks can use RV(instance_profile.arn).
  diff_mode:
    support: full
    description: Shows the name, path, role and tags before and after.
notes:
  - Instance associations are regional while the profile is global; the association check of
    O(state=absent) looks at the task's O(region) (V(us-east-1) when none is set). Check the other
    regions you use with M(keyless.aws.ec2_fleet_info) first.
  - "Permissions: C(iam:GetInstanceProfile), C(iam:CreateInstanceProfile), C(iam:AddRoleToInstanceProfile),
    C(iam:RemoveRoleFromInstanceProfile), C(iam:TagInstanceProfile), C(iam:UntagInstanceProfile),
    C(iam:DeleteInstanceProfile), C(iam:GetRole), C(iam:PassRole) on the role, and for O(state=absent)
    C(ec2:DescribeIamInstanceProfileAssociations) (plus C(ec2:DisassociateIamInstanceProfile) with
    O(force))."
extends_documentation_fragment:
  - keyless.aws.aws
"""

EXAMPLES = r"""
- name: Create the instance profile of the documented setup, holding MyAppRole
  keyless.aws.iam_instance_profile:
    name: MyAppProfile
    role: MyAppRole
  register: profile

- name: Launch-ready ARN, also under --check
  ansible.builtin.debug:
    msg: "{{ profile.instance_profile.arn }}"

- name: Swap the role (remove MyAppRole, add MyAppRoleV2 right after)
  keyless.aws.iam_instance_profile:
    name: MyAppProfile
    role: MyAppRoleV2

- name: Tag a profile under a path, keeping tags set elsewhere
  keyless.aws.iam_instance_profile:
    name: BatchProfile
    path: /batch/
    role: arn:aws:iam::123456789012:role/batch/BatchRole
    tags:
      Application: batch
    purge_tags: false

- name: Empty the profile
  keyless.aws.iam_instance_profile:
    name: MyAppProfile
    role: ""

- name: Delete it, disassociating any instance in us-east-1 that still uses it
  keyless.aws.iam_instance_profile:
    name: MyAppProfile
    state: absent
    force: true
    region: us-east-1
"""

RETURN = r"""
instance_profile:
  description:
    - The profile after the task; in check mode the predicted one (its id and create date are null when
      it would be created). Null after O(state=absent).
  returned: always
  type: dict
  contains:
    arn:
      description: The profile's ARN.
      type: str
    instance_profile_name:
      description: The name.
      type: str
    instance_profile_id:
      description: The stable id IAM assigned (null for a profile predicted in check mode).
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
    arn: arn:aws:iam::123456789012:instance-profile/MyAppProfile
    instance_profile_name: MyAppProfile
    instance_profile_id: AIPAEXAMPLEID1234567
    path: /
    roles: [MyAppRole]
    role_arn: arn:aws:iam::123456789012:role/MyAppRole
    tags: {}
    create_date: "2026-12-01T08:00:00+00:00"
changes:
  description:
    - The changes made (or, in check mode, that would be made), in order, each with V(action) (the snake_case
      name of the AWS API call), V(operation) (the API operation), V(target), V(before) and V(after).
  returned: always
  type: list
  elements: dict
  sample:
    - {action: remove_role_from_instance_profile, operation: RemoveRoleFromInstanceProfile, target: MyAppProfile,
       before: MyAppRole, after: null}
    - {action: add_role_to_instance_profile, operation: AddRoleToInstanceProfile, target: MyAppProfile,
       before: MyAppRole, after: MyAppRoleV2}
disassociated:
  description: Instances disassociated from the profile before it was deleted (O(force=true)).
  returned: when O(state=absent)
  type: list
  elements: str
  sample: [i-0123456789abcdef0]
"""

from ansible_collections.keyless.aws.plugins.module_utils.aws.module import aws_module, context, run_module
from ansible_collections.keyless.aws.plugins.module_utils.iam import profile_converge


def main():
    module = aws_module(profile_converge.argument_spec())
    run_module(module, lambda progress: profile_converge.converge(
        module, context(module, profile_converge.validate(module.params)), progress))


if __name__ == "__main__":
    main()
