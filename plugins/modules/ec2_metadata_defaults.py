#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ec2_metadata_defaults
short_description: Set the account's default instance metadata (IMDS) options per region
version_added: 0.1.0
description:
  - Reads the account-level IMDS defaults of each region with C(GetInstanceMetadataDefaults) and
    changes only the fields given with one C(ModifyInstanceMetadataDefaults) call per region that
    differs.
  - The defaults apply to new launches only. Launch parameters win over account defaults, which win
    over the AMI's C(ImdsSupport=v2.0). Use M(keyless.aws.ec2_metadata_options) for running instances.
  - A field left out is neither compared nor changed. V(no-preference) (or V(-1) for the hop limit)
    clears the account default.
  - With no field given the module only reports the defaults of every region.
  - Regions are read and changed in parallel; a region that fails does not stop the others, and the
    task fails at the end naming each failed region.
author: keyless.aws maintainers (@keyless-aws)
options:
  regions:
    description:
      - The regions to manage in this task. Defaults to the connection's region (O(region), else the
        profile's region in the AWS config file).
    type: list
    elements: str
  http_tokens:
    description:
      - V(required) makes IMDSv2 the default for new instances; V(optional) allows IMDSv1.
    type: str
    choices: [optional, required, no-preference]
  http_put_response_hop_limit:
    description:
      - Default hop limit of the IMDSv2 token response, 1 to 64 (containers need 2), or V(-1) for no
        preference.
    type: int
  http_endpoint:
    description:
      - Whether the IMDS endpoint is enabled on new instances.
    type: str
    choices: [enabled, disabled, no-preference]
  instance_metadata_tags:
    description:
      - Whether instance tags are readable from the instance metadata on new instances.
    type: str
    choices: [enabled, disabled, no-preference]
  http_tokens_enforced:
    description:
      - V(enabled) refuses launches that do not end up with O(http_tokens=required).
    type: str
    choices: [enabled, disabled, no-preference]
attributes:
  check_mode:
    support: full
    description: Reads the defaults and reports what would change; makes no modifying call.
  diff_mode:
    support: full
    description: Shows the defaults of every region before and after.
notes:
  - Defaults managed by an AWS Organizations declarative policy cannot be changed by the account; such a
    region fails with the policy's message.
  - Needs C(ec2:GetInstanceMetadataDefaults) and, to change, C(ec2:ModifyInstanceMetadataDefaults).
extends_documentation_fragment:
  - keyless.aws.aws
"""

EXAMPLES = r"""
- name: Require IMDSv2 for new launches in two regions, hop limit 2 for containers
  keyless.aws.ec2_metadata_defaults:
    regions: [us-east-1, eu-west-1]
    http_tokens: required
    http_put_response_hop_limit: 2

- name: Also refuse launches that would allow IMDSv1
  keyless.aws.ec2_metadata_defaults:
    region: us-east-1
    http_tokens: required
    http_tokens_enforced: enabled

- name: Read the defaults of a region without changing anything
  keyless.aws.ec2_metadata_defaults:
    region: eu-central-1
  register: imds_defaults

- name: Clear the account's hop limit default
  keyless.aws.ec2_metadata_defaults:
    region: us-east-1
    http_put_response_hop_limit: -1
"""

RETURN = r"""
defaults:
  description:
    - The defaults of every region after the task (predicted in check mode), keyed by region.
    - A field the account has no preference for reads V(no-preference), the hop limit V(-1).
  returned: always
  type: dict
  sample:
    us-east-1:
      http_tokens: required
      http_put_response_hop_limit: 2
      http_endpoint: no-preference
      instance_metadata_tags: no-preference
      http_tokens_enforced: no-preference
      managed_by: account
regions:
  description: One entry per region, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    region:
      description: The region.
      type: str
    changed:
      description: Whether the region was (or in check mode would be) modified.
      type: bool
    changed_fields:
      description: The options whose value differs.
      type: list
      elements: str
    before:
      description: The defaults read at the start.
      type: dict
    after:
      description: The defaults after the change.
      type: dict
    error:
      description: Why the region failed, when it did.
      type: str
  sample:
    - region: us-east-1
      changed: true
      changed_fields: [http_tokens]
      before: {http_tokens: no-preference, http_put_response_hop_limit: 2}
      after: {http_tokens: required, http_put_response_hop_limit: 2}
      error: null
"""

from ansible_collections.keyless.aws.plugins.module_utils.ec2account import metadata_defaults as md
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import TaskFailure
from ansible_collections.keyless.aws.plugins.module_utils.aws.module import aws_module, context, run_module
from ansible_collections.keyless.aws.plugins.module_utils.aws.parallel import parallel_map
from ansible_collections.keyless.aws.plugins.module_utils.aws.plan import diff

MAX_PARALLEL_REGIONS = 8


def argument_spec():
    return dict(
        regions=dict(type="list", elements="str"),
        http_tokens=dict(type="str", choices=list(md.CHOICES["http_tokens"])),
        http_put_response_hop_limit=dict(type="int"),
        http_endpoint=dict(type="str", choices=list(md.CHOICES["http_endpoint"])),
        instance_metadata_tags=dict(type="str", choices=list(md.CHOICES["instance_metadata_tags"])),
        http_tokens_enforced=dict(type="str", choices=list(md.CHOICES["http_tokens_enforced"])),
    )


def run(module, ctx, regions, want, progress):
    observed = dict(zip(regions, parallel_map(lambda r: md.read_region(ctx.client("ec2", region=r), r),
                                              regions, MAX_PARALLEL_REGIONS)))
    readable = dict((r, defaults) for r, (defaults, err) in observed.items() if err is None)
    plans = dict((p.region, p) for p in md.plan(readable, want))
    to_apply = [p for p in plans.values() if p.changed and not p.error]
    if not module.check_mode and to_apply:
        for region_plan, err in zip(to_apply, parallel_map(
                lambda p: md.apply_region(ctx.client, p, progress), to_apply, MAX_PARALLEL_REGIONS)):
            region_plan.error = err
    entries = []
    for region in regions:
        defaults, err = observed[region]
        if err:
            entries.append(dict(region=region, changed=False, changed_fields=[], before=None, after=None, error=err))
            continue
        p = plans[region]
        entries.append(dict(region=region, changed=p.changed and not p.error, changed_fields=p.changed_fields(),
                            before=p.before, after=p.after if not p.error else p.before, error=p.error,
                            managed_by=defaults["managed_by"], warnings=p.warnings))
    return entries


def converge(module, progress):
    params = module.params
    # without `regions`, the connection's region: the option, AWS_REGION or the profile's
    ctx = context(module, md.validate(params), require_region=not params.get("regions"))
    regions = md.target_regions(dict(params, region=ctx.region))
    entries = run(module, ctx, regions, md.desired(params), progress)

    for entry in entries:
        for warning in entry.get("warnings") or ():
            module.warn(warning)
    defaults = {}
    for e in entries:
        if e["after"] is not None:
            defaults[e["region"]] = dict(e["after"], managed_by=e.get("managed_by"))
    result = dict(
        changed=any(e["changed"] for e in entries),
        defaults=defaults,
        regions=[dict((k, v) for k, v in e.items() if k not in ("warnings", "managed_by")) for e in entries],
        diff=diff(dict((e["region"], e["before"]) for e in entries if e["before"] is not None),
                  dict((e["region"], e["after"]) for e in entries if e["after"] is not None)),
    )
    failed = [e for e in entries if e["error"]]
    if failed:
        reasons = "; ".join(e["error"] for e in failed)
        raise TaskFailure("%d of %d regions failed: %s" % (len(failed), len(entries), reasons), result)
    return result


def main():
    module = aws_module(argument_spec())
    run_module(module, lambda progress: converge(module, progress))


if __name__ == "__main__":
    main()
