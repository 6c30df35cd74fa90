# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who the instances are: the audit's read of associations -> instance profiles -> roles (reads only).
Private to the collection.

    read_identities(ec2, iam, instance_ids, associations=None, profile_arns=()) -> (associations, profiles)
        associations: {instance_id: active association} (selection.association_index), read for instance_ids
        unless given (a ProfileStep read them already); profiles: {profile name: {found, role_name, role_arn}}
        with one GetInstanceProfile per distinct profile, of the associations and of profile_arns (the
        profile a run converges to). EC2 reports an instance's profile by ARN only: its role is IAM's to tell.

Used by ec2_fleet_info (the audit) and ec2_instance_identity (its compliance before and after).
"""

from __future__ import annotations

from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import name_of
from ansible_collections.keyless.aws.plugins.module_utils.fleet.selection import association_index
from ansible_collections.keyless.aws.plugins.module_utils.iam.profiles import profile_roles


def read_identities(ec2, iam, instance_ids, associations=None, profile_arns=()):
    """See the module docstring."""
    if associations is None:
        associations = association_index(ec2, instance_ids)
    names = {name_of(a["profile_arn"]) for a in associations.values() if a.get("profile_arn")}
    names.update(name_of(arn) for arn in profile_arns if arn)
    profiles = profile_roles(iam, names) if names else {}
    return associations, profiles
