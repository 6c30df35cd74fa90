#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ec2_metadata_options
short_description: Enforce IMDSv2 and the other instance metadata options across a fleet of EC2 instances
version_added: 0.1.0
description:
  - Converges the instance metadata (IMDS) options of every selected instance in one task. The
    instances are read in bulk (C(DescribeInstances), 1,000 a page, carries the current options) and
    only the instances that differ get one C(ModifyInstanceMetadataOptions) call.
  - Only the options given are compared and changed; an option left out keeps its value (setting
    O(http_tokens=required) never touches a hop limit of 2). Each request carries the instance's current
    value of every other option, which is right both on AWS (which keeps an omitted field) and on
    endpoints that reset omitted fields.
  - Security Hub EC2.8 needs C(HttpTokens=required) whatever the endpoint state, so tokens are set even
    where the endpoint is disabled, and a disabled endpoint is never re-enabled unless O(http_endpoint)
    says so.
  - "Safe rollout: with O(imdsv1_usage_check=true), instances that O(http_tokens=required) would tighten are
    checked against their IMDSv1 evidence in CloudWatch (C(MetadataNoToken) and C(MetadataNoTokenRejected), daily
    sums over O(imdsv1_lookback_days)); an instance with IMDSv1 calls, without enough days of data, or that
    CloudWatch gave no answer for is held back (status C(held), left untouched, listed in RV(held) with its signal
    and reason), and O(fail_on_held) decides whether that fails the task. With O(waves) and O(watch_seconds) the
    rest is required in waves, each watched for refused IMDSv1 calls and rolled back where they rise."
  - Calls run on O(concurrency) threads, paced by a client-side token bucket that mirrors AWS's
    C(ModifyInstanceMetadataOptions) bucket. One instance's failure never stops the others; the task fails
    at the end naming every failed instance and why. Works on running and stopped instances; never
    launches, starts or stops one. A running instance is waited for until its options read C(applied); a
    stopped one gets them at its next start (AWS keeps its state C(pending) until then), so it is reported
    changed with that reason and never waited on or failed.
  - To converge the instance profile in the same pass, use M(keyless.aws.ec2_instance_identity).
author: keyless.aws maintainers (@keyless-aws)
attributes:
  check_mode:
    support: full
    description: Reads the fleet (and CloudWatch with O(imdsv1_usage_check)) and returns the plan; makes no mutating call.
  diff_mode:
    support: full
    description: Shows the options of each changed instance before and after, for at most O(max_diff_instances) instances.
notes:
  - Needs C(ec2:DescribeInstances), C(ec2:ModifyInstanceMetadataOptions) and, with
    O(imdsv1_usage_check=true), C(cloudwatch:GetMetricData).
  - "On AWS, 1,000 instances to change take at least (1000 - 100) / 5 = 180 seconds: the
    C(ModifyInstanceMetadataOptions) bucket holds 100 tokens and refills 5 a second."
  - EC2 publishes C(MetadataNoToken) (a value, 0 included) for a running instance every 5 minutes; an instance
    without a datapoint on enough days is "no evidence", not "no calls" (O(imdsv1_no_data)).
extends_documentation_fragment:
  - keyless.aws.aws
  - keyless.aws.fleet
  - keyless.aws.fleet.execution
  - keyless.aws.identity.metadata
  - keyless.aws.identity.safe_rollout
"""

EXAMPLES = r"""
- name: Enforce IMDSv2 on the web fleet, keeping each instance's hop limit
  keyless.aws.ec2_metadata_options:
    region: eu-west-1
    tags:
      Fleet: web
    http_tokens: required

- name: Safe rollout - hold back instances that still called IMDSv1 in the last 14 days
  keyless.aws.ec2_metadata_options:
    filters:
      tag:Team: payments
    http_tokens: required
    http_endpoint: enabled
    imdsv1_usage_check: true
  register: imds

- name: Show the instances that were held back
  ansible.builtin.debug:
    msg: "{{ imds.held }}"

- name: Require IMDSv2 on 1 %, 10 %, 50 %, then all, watching each wave 15 minutes for refused IMDSv1 calls
  keyless.aws.ec2_metadata_options:
    tags:
      Team: payments
    http_tokens: required
    imdsv1_usage_check: true
    waves: [1, 10, 50, 100]
    watch_seconds: 900
    rollback_threshold: 5

- name: Containers need hop limit 2
  keyless.aws.ec2_metadata_options:
    tags:
      Runtime: ecs
    http_put_response_hop_limit: 2
"""

RETURN = r"""
changed:
  description: Whether any instance changed (in check mode - would change).
  returned: always
  type: bool
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
stopped:
  description: Why the rollout stopped before its last wave (O(rollback_threshold)), or null.
  returned: always
  type: str
instances:
  description:
    - One entry per selected or skipped instance, sorted by id.
    - O(states) and the instances' actual states decide which are acted on.
  returned: always
  type: list
  elements: dict
  contains:
    instance_id:
      description: The instance id.
      type: str
    action:
      description: What was (or in check mode would be) done.
      type: str
      choices: [none, associate, replace, disassociate_associate, disassociate, modify]
    before:
      description: The state before, as compared; null for skipped instances.
      type: dict
    after:
      description: The state after (predicted in check mode); null for skipped instances.
      type: dict
    status:
      description: V(changed) (in check mode - would change), V(unchanged), V(skipped), V(held), V(rolled_back) or V(failed).
      type: str
    reason:
      description: Why an instance was skipped, held or failed; null otherwise.
      type: str
    owner:
      description:
        - The service that launched the instance and relaunches it, from its tags - V(kind) (V(eks), V(karpenter),
          V(elasticbeanstalk), V(batch), V(ecs), V(autoscaling), V(spot_fleet), V(ec2_fleet)), V(name) (the node group
          as C(cluster/nodegroup), the Auto Scaling group, ...) and V(service); null for an instance nobody owns.
      type: dict
      sample: {kind: eks, name: prod/general, service: Amazon EKS}
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
  description: Counts over RV(instances).
  returned: always
  type: dict
  sample:
    total: 4
    changed: 2
    unchanged: 1
    skipped: 1
    held: 0
    failed: 0
    by_action: {associate: 1, replace: 1}
    by_status: {changed: 2, unchanged: 1, skipped: 1, held: 0, failed: 0}
failed_instances:
  description: The instances that failed and why. The task fails when this is not empty.
  returned: always
  type: list
  elements: dict
  sample:
    - instance_id: i-0123456789abcdef0
      reason: "AssociateIamInstanceProfile failed for i-0123456789abcdef0; UnauthorizedOperation: ..."
api_calls:
  description:
    - The AWS API calls (HTTP attempts, retries included) this task made, per operation, and how many
      were throttled.
  returned: always
  type: dict
  sample:
    by_operation: {DescribeInstances: 1, DescribeIamInstanceProfileAssociations: 1}
    total: 2
    throttled: 0
    waited_seconds: 0.0
timings:
  description:
    - Seconds spent reading the fleet (C(observe), including IAM and CloudWatch reads), making the
      changes (C(apply)) and waiting for them to settle (C(wait)), and in total.
  returned: always
  type: dict
  sample: {observe: 1.2, apply: 180.3, wait: 2.1, total: 183.6}
"""

from ansible_collections.keyless.aws.plugins.module_utils.aws.module import aws_module, run_module
from ansible_collections.keyless.aws.plugins.module_utils.fleet import frame
from ansible_collections.keyless.aws.plugins.module_utils.fleet import metadata as md
from ansible_collections.keyless.aws.plugins.module_utils.fleet.steps import MetadataStep
from ansible_collections.keyless.aws.plugins.module_utils.fleet.waves import safe_rollout_argument_spec, validate_safe_rollout


def argument_spec():
    spec = md.metadata_argument_spec()
    spec.update(safe_rollout_argument_spec())
    return frame.fleet_argument_spec(spec)


def validate(params):
    errors = md.validate_metadata(params)
    if not md.desired_fields(params):
        errors.append("no metadata option given: set at least one of %s" % ", ".join(opt for opt, _api in md.FIELDS))
    return errors + validate_safe_rollout(params)


def converge(module, progress):
    run = frame.start(module, validate(module.params))
    actionable, skipped = frame.observe(module, run)
    step = MetadataStep(module.params)
    results = frame.converge(module, run, [step], actionable, progress)[step.name]
    failure = step.held_message() if module.params["fail_on_held"] else None
    return frame.finish(module, run, skipped + results, step.verb, extra=step.report(), failure=failure)


def main():
    module = aws_module(argument_spec())
    run_module(module, lambda progress: converge(module, progress))


if __name__ == "__main__":
    main()
