#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ec2_instance_identity
short_description: Give a fleet of EC2 instances its instance profile and IMDSv2 in one pass
version_added: 0.1.0
description:
  - Converges, in one task, the IAM instance profile and the instance metadata options of every selected
    instance - what M(keyless.aws.ec2_profile_association) and M(keyless.aws.ec2_metadata_options) do
    one after the other, in one pass.
  - The fleet is read once (C(DescribeInstances) and C(DescribeIamInstanceProfileAssociations), 1,000 a
    page) and each instance gets only the calls it needs, planned exactly as the two single-purpose
    modules plan them.
  - "The calls drain AWS's token buckets, one per API, at the same time: C(AssociateIamInstanceProfile) (100,
    refilling 5 a second), C(ReplaceIamInstanceProfileAssociation) (50/5), C(DisassociateIamInstanceProfile)
    (100/5) and C(ModifyInstanceMetadataOptions) (100/5) each have a lane of O(concurrency) threads (and a
    client of their own), so a fleet converges in the time of its slowest bucket, not the sum of them:
    at 1,000 instances on AWS about 180 seconds instead of 360."
  - Each step stands alone unless O(order=profile_first), where an instance's metadata options change only
    after its profile step succeeded. The result says, per instance, which step failed.
  - With O(batch_size), instances are worked on in batches for reporting (RV(batches)) and for
    O(max_fail_percentage); a batch boundary does not stop the calls - the next batch's start while the
    last calls of the previous one finish, and when the rollout stops at most one batch beyond the ones
    judged is under way.
  - Never launches, starts or stops an instance; instances in transition or terminated are reported as skipped.
author: keyless.aws maintainers (@keyless-aws)
options:
  order:
    description:
      - V(independent) runs both steps of every instance side by side; V(profile_first) changes an instance's
        metadata options only once its profile step succeeded (an instance whose profile step failed keeps
        its options, reported as skipped).
    type: str
    choices: [independent, profile_first]
    default: independent
  batch_size:
    description:
      - Report progress (and judge O(max_fail_percentage)) per batch of this many instances, in instance id
        order. V(0) is one batch.
    type: int
    default: 0
  max_fail_percentage:
    description:
      - Once every instance of the first batches is done, stop the rollout when more than this percentage of
        them failed; instances whose calls have not started are reported as skipped. Not set, every instance
        is tried.
    type: float
  expected:
    description:
      - What compliant means, as for M(keyless.aws.ec2_fleet_info) (keys V(instance_profile), V(role),
        V(http_tokens), V(http_endpoint), V(min_hop_limit)). Given, RV(compliance) holds the audit's summary
        of the instances acted on before and after the run, computed from the one observe and the results
        (no second read of the fleet).
    type: dict
attributes:
  check_mode:
    support: full
    description: Reads the fleet (and CloudWatch with O(imdsv1_usage_check)) and returns the plan of both steps; makes no mutating call.
  diff_mode:
    support: full
    description: Shows the profile and options of each changed instance before and after, for at most O(max_diff_instances) instances.
notes:
  - Give O(instance_profile), a metadata option, or both; a step with nothing to converge is not run.
  - Needs C(ec2:DescribeInstances), C(ec2:DescribeIamInstanceProfileAssociations), C(iam:GetInstanceProfile)
    and, to change, C(ec2:AssociateIamInstanceProfile), C(ec2:ReplaceIamInstanceProfileAssociation),
    C(ec2:DisassociateIamInstanceProfile), C(iam:PassRole) on the profile's role, C(ec2:ModifyInstanceMetadataOptions),
    and with O(imdsv1_usage_check=true) C(cloudwatch:GetMetricData).
extends_documentation_fragment:
  - keyless.aws.aws
  - keyless.aws.fleet
  - keyless.aws.fleet.execution
  - keyless.aws.identity.profile
  - keyless.aws.identity.metadata
  - keyless.aws.identity.safe_rollout
"""

EXAMPLES = r"""
- name: Give the web fleet its profile and require IMDSv2, in one pass
  keyless.aws.ec2_instance_identity:
    region: eu-west-1
    tags:
      Fleet: web
    instance_profile: AppServer
    http_tokens: required
    http_endpoint: enabled

- name: Roll out in batches of 200, stopping above 5 % failures, IMDSv1 callers held back
  keyless.aws.ec2_instance_identity:
    filters:
      tag:Team: payments
    instance_profile: arn:aws:iam::123456789012:instance-profile/Payments
    http_tokens: required
    imdsv1_usage_check: true
    order: profile_first
    batch_size: 200
    max_fail_percentage: 5
  register: identity

- name: Show the progress of each batch
  ansible.builtin.debug:
    msg: "batch {{ item.batch }}/{{ identity.batches | length }}: {{ item.changed }} changed, {{ item.failed }} failed"
  loop: "{{ identity.batches }}"
"""

RETURN = r"""
changed:
  description: Whether any instance changed (in check mode - would change).
  returned: always
  type: bool
instance_profile:
  description: The resolved instance profile (predicted in check mode when it does not exist yet); null without O(instance_profile).
  returned: always
  type: dict
  sample: {name: AppServer, arn: "arn:aws:iam::123456789012:instance-profile/AppServer"}
instances:
  description: One entry per selected or skipped instance, sorted by id.
  returned: always
  type: list
  elements: dict
  contains:
    instance_id:
      description: The instance id.
      type: str
    status:
      description:
        - V(failed) when a step failed, else V(rolled_back) when its wave's watch undid its metadata change, else
          V(held) when a step was held back (IMDSv1 evidence, a wave, or an owner), else V(changed)
          (in check mode - would change) when a step changed it, V(skipped), or V(unchanged).
      type: str
    reason:
      description: Why the instance failed, was held or skipped (naming the step); null otherwise.
      type: str
    owner:
      description:
        - The service that launched the instance and relaunches it, from its tags - V(kind) (V(eks), V(karpenter),
          V(elasticbeanstalk), V(batch), V(ecs), V(autoscaling), V(spot_fleet), V(ec2_fleet)), V(name) (the node group
          as C(cluster/nodegroup), the Auto Scaling group, ...) and V(service); null for an instance nobody owns.
      type: dict
      sample: {kind: eks, name: prod/general, service: Amazon EKS}
    profile:
      description:
        - The profile step of the instance (null without O(instance_profile), or when the instance was skipped),
          as M(keyless.aws.ec2_profile_association) reports it - V(action), V(before), V(after), V(status), V(reason).
      type: dict
    metadata:
      description:
        - The metadata step of the instance (null without a metadata option, or when the instance was skipped),
          as M(keyless.aws.ec2_metadata_options) reports it.
      type: dict
owners:
  description:
    - The owners of the selected instances, by kind (see RV(instances[].owner)) - the names of the Auto Scaling
      groups, node groups (C(cluster/nodegroup)), Beanstalk environments, fleets... whose launch sources decide what
      the next instance they launch looks like (M(keyless.aws.autoscaling_group_identity),
      M(keyless.aws.eks_nodegroup_identity)).
  returned: always
  type: dict
  sample: {autoscaling: [web-asg], eks: [prod/general]}
summary:
  description:
    - Counts over RV(instances), plus the counts of each step under V(profile) and V(metadata).
    - V(not_reached) counts the skipped instances that the rollout did not reach because it stopped
      (O(max_fail_percentage)); V(skipped) includes them.
  returned: always
  type: dict
  sample:
    total: 4
    changed: 2
    unchanged: 1
    skipped: 1
    held: 0
    failed: 0
    not_reached: 0
    profile: {total: 4, changed: 1, unchanged: 2, skipped: 1, held: 0, failed: 0, by_action: {associate: 1}}
    metadata: {total: 4, changed: 2, unchanged: 1, skipped: 1, held: 0, failed: 0, by_action: {modify: 2}}
skipped_instances:
  description:
    - The skipped instances that the rollout reached (not running or stopped, or not selected), and why; the
      instances a stopped rollout did not reach are counted in V(not_reached) of RV(summary) instead.
  returned: always
  type: list
  elements: dict
  sample: [{instance_id: i-0123456789abcdef1, reason: instance is terminated}]
failed_instances:
  description: The instances that failed, the step that failed and why. The task fails when this is not empty.
  returned: always
  type: list
  elements: dict
  sample:
    - instance_id: i-0123456789abcdef0
      step: profile
      reason: "AssociateIamInstanceProfile failed for i-0123456789abcdef0; UnauthorizedOperation: ..."
owned_instances:
  description:
    - The instances whose instance profile was left to their owner (status V(held)), see O(include_owned) - with
      the owner and what to converge instead.
  returned: always
  type: list
  elements: dict
  sample:
    - instance_id: i-0123456789abcdef0
      owner: {kind: eks, name: prod/general, service: Amazon EKS}
      reason: "owned by Amazon EKS prod/general, whose agents need the role it gave the instance: converge ..."
held:
  description:
    - Instances whose metadata options were held back at their O(http_tokens) by O(imdsv1_usage_check) or O(waves) -
      with the signal (V(calls), V(no_data), V(unknown), or V(wave) when no wave of this run takes it), the IMDSv1
      calls and refused calls over the window, the days with data, the daily sums (C(days), null where CloudWatch had
      no datapoint) and the reason.
  returned: always
  type: list
  elements: dict
  sample:
    - instance_id: i-0123456789abcdef0
      signal: calls
      imdsv1_calls: 42.0
      rejected: 0.0
      days_with_data: 14
      days: [{date: "2026-12-06", calls: 40.0, rejected: 0.0}, {date: "2026-12-07", calls: 2.0, rejected: 0.0}]
      reason: 42 IMDSv1 calls (MetadataNoToken) on 2026-12-06, 2026-12-07 in the last 14 days
rolled_back:
  description:
    - Instances required in a wave and put back to C(http_tokens=optional) by its watch, with the refused IMDSv1 calls
      (C(MetadataNoTokenRejected)) that made it so.
  returned: always
  type: list
  elements: dict
  sample: [{instance_id: i-0123456789abcdef0, rejected: 12.0}]
waves:
  description:
    - Per wave of the rollout (one without O(waves)) - the instances in it, how many it required IMDSv2 on and their
      ids, the seconds and instances watched, the instances rolled back (and those whose rollback call failed), how many were not reached because the
      rollout stopped, and why it stopped after this wave (null when it did not).
  returned: always
  type: list
  elements: dict
  sample:
    - {wave: 1, instances: 3, enforced: 2, instance_ids: [i-0123456789abcdef0, i-0123456789abcdef1], watch_seconds: 900,
       watched: 2, rolled_back: [], rollback_failed: [], not_reached: 0, stopped: null}
batches:
  description:
    - Per batch of O(batch_size) instances (one batch without it) - how many were changed, failed, held, and not
      reached because the rollout stopped before their calls started.
  returned: always
  type: list
  elements: dict
  sample: [{batch: 1, instances: 200, changed: 198, failed: 1, held: 1, not_reached: 0}]
compliance:
  description:
    - With O(expected), the audit summaries (as RV(keyless.aws.ec2_fleet_info#module:summary)) of the instances
      acted on, before the run and after it (predicted in check mode).
  returned: when O(expected) is given
  type: dict
  sample: {before: {total: 2, compliant: 0, non_compliant: 2, by_finding: {no_profile: 2, imdsv1_allowed: 2}},
           after: {total: 2, compliant: 2, non_compliant: 0, by_finding: {}}}
stopped:
  description: Why the rollout stopped early (O(max_fail_percentage), or O(rollback_threshold) after a wave), or null.
  returned: always
  type: str
api_calls:
  description: The AWS API calls (HTTP attempts, retries included) per operation, and how many were throttled.
  returned: always
  type: dict
  sample: {by_operation: {DescribeInstances: 1, AssociateIamInstanceProfile: 2}, total: 3, throttled: 0, waited_seconds: 0.0}
timings:
  description: Seconds spent reading the fleet (C(observe)), making the changes (C(apply)), waiting for them (C(wait)), watching the waves (C(watch)), in total.
  returned: always
  type: dict
  sample: {observe: 1.2, apply: 180.3, wait: 2.1, total: 183.6}
"""

from ansible_collections.keyless.aws.plugins.module_utils.aws.module import aws_module, run_module
from ansible_collections.keyless.aws.plugins.module_utils.fleet import instance_identity


def main():
    module = aws_module(instance_identity.argument_spec())
    run_module(module, lambda progress: instance_identity.converge(module, progress))


if __name__ == "__main__":
    main()
