# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The instance selector shared by the fleet modules (ec2_profile_association, ec2_metadata_options,
    # ec2_fleet_info): keyless.aws.fleet. Its argument_spec is fleet.selector_argument_spec().
    DOCUMENTATION = r"""
options:
  instance_ids:
    description:
      - Instances to select, by id (C(i-) and 8 to 17 hex digits). Combined with O(filters) and O(tags)
        (an instance must match all of them).
      - An id that does not exist in the region is reported (as failed by the modules that change
        instances, in RV(keyless.aws.ec2_fleet_info#module:missing_instance_ids) by M(keyless.aws.ec2_fleet_info)).
    type: list
    elements: str
  filters:
    description:
      - EC2 C(DescribeInstances) filters, name to a value or a list of values (for example
        C(instance-type), C(subnet-id), C(tag:Team)).
    type: dict
  tags:
    description:
      - Tags the instances must carry, key to a value or a list of values (each becomes a C(tag:<key>)
        filter).
    type: dict
  states:
    description:
      - Instance states to act on. Selected instances in any other state are reported as skipped, with
        the reason.
      - The modules that change instances never change one that is V(pending), V(stopping),
        V(shutting-down) or V(terminated), even when listed here; it is reported as skipped.
    type: list
    elements: str
    choices: [pending, running, stopping, stopped, shutting-down, terminated]
    default: [running, stopped]
  all_instances:
    description:
      - Select every instance of the region. An empty selector (no O(instance_ids), O(filters) or
        O(tags)) is refused unless this is V(true); it cannot be combined with them.
    type: bool
    default: false
"""

    # How the mutating fleet modules run their calls: keyless.aws.fleet.execution.
    EXECUTION = r"""
options:
  concurrency:
    description:
      - How many instances are worked on at the same time (1 to 64). The rate limits, not this, bound
        the request rate.
    type: int
    default: 10
  rate_limits:
    description:
      - Client-side token buckets, API name to C({capacity, refill}) (tokens; tokens per second). Each
        bucket starts full and refills continuously, like AWS's own, so the run stays under the
        account's limit instead of being throttled.
      - Defaults are AWS's EC2 buckets per account and region, one per API (EC2 evaluates each API
        individually) - C(ModifyInstanceMetadataOptions), C(AssociateIamInstanceProfile) and
        C(DisassociateIamInstanceProfile) 100/5 (their own published buckets), every other mutating API such
        as C(ReplaceIamInstanceProfileAssociation) 50/5, every C(Describe*)/C(Get*)/C(List*) 100/20. An API name
        given here overrides its bucket; an API of another service (IAM, CloudWatch) is paced only when named.
      - Deprecated keys C(mutating) and C(describe) (once EC2's shared buckets) still work - each sets the
        default of every EC2 API of its category that is not named, and each API keeps its own bucket.
      - Other tasks or tools in the same account and region draw from the same AWS buckets; lower the
        refill to leave them room.
    type: dict
  wait:
    description:
      - Wait, polling in bulk, until every changed instance reports the new state.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait with O(wait=true). Instances that have not settled by then are reported as failed.
    type: int
    default: 300
  max_diff_instances:
    description:
      - With C(--diff), show at most this many changed instances and a count of the rest. The
        RV(instances) return value always lists every instance.
    type: int
    default: 50
  include_owned:
    description:
      - By default the instance profile of an instance launched by Amazon EKS (C(eks:cluster-name),
        C(eks:nodegroup-name) tags), Karpenter (C(karpenter.sh/nodepool)), AWS Elastic Beanstalk
        (C(elasticbeanstalk:environment-name)), AWS Batch (C(aws:batch:compute-environment)) or an Amazon ECS
        capacity provider (C(AmazonECSManaged)) is never changed or removed - their agents need the role the owner
        gave the instance, and the owner relaunches from its own settings. Such an instance is reported with status
        C(held), its C(owner), and what to converge instead.
      - Also, on an instance whose owner runs containers (EKS, Karpenter, Batch, ECS), a metadata change that would
        leave C(http_tokens=required) with a hop limit below 2 sets the hop limit to 2, and says so.
      - Name owner kinds here to treat their instances like any other (you know their agents get the permissions
        they need from the new profile, or you set the hop limit yourself).
      - Instances of Auto Scaling groups, Spot Fleets and EC2 Fleets are always converged; their launch sources
        are converged with M(keyless.aws.autoscaling_group_identity) so that new instances launch compliant.
    type: list
    elements: str
    choices: [eks, karpenter, elasticbeanstalk, batch, ecs]
    default: []
"""
