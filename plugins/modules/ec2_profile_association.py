#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ec2_profile_association
short_description: Attach (or detach) an IAM instance profile to a whole fleet of EC2 instances
version_added: 0.1.0
description:
  - Converges the IAM instance profile of every selected instance in one task. The instances are read
    in bulk (C(DescribeInstances) and C(DescribeIamInstanceProfileAssociations), 1,000 a page) and each
    one gets only the calls it needs. An instance's current profile is the one of its active
    association.
  - "Per instance: nothing when it already has the profile; C(AssociateIamInstanceProfile) when it has
    none; C(ReplaceIamInstanceProfileAssociation) when a running instance has another profile;
    disassociate then associate when a stopped instance has another profile (Replace is for running
    instances). A running instance is never disassociated to change its profile (that would leave it
    without credentials) - an association still C(associating) is waited for, then replaced; one that
    changed since the read is read again and acted on. C(state=absent) disassociates."
  - Calls run in one lane of O(concurrency) threads per AWS API bucket (C(AssociateIamInstanceProfile),
    C(ReplaceIamInstanceProfileAssociation), C(DisassociateIamInstanceProfile)), paced by client-side token
    buckets that mirror AWS's rate limits, with botocore's retries for throttling left over. One instance's failure never stops the
    others; the task fails at the end naming every failed instance and why.
  - To converge the metadata options in the same pass, use M(keyless.aws.ec2_instance_identity).
  - Right after an instance profile is created, EC2 may refuse it (C(Invalid IAM Instance Profile name))
    until IAM propagates; such calls are retried with backoff for up to O(propagation_timeout) seconds.
  - Never launches, starts or stops an instance.
author: keyless.aws maintainers (@keyless-aws)
options:
  instance_profile:
    description:
      - Name or ARN of the instance profile the instances must have. Required with O(state=present).
      - It is resolved once with C(iam:GetInstanceProfile) and must hold a role. In check mode a profile
        that does not exist yet (an earlier task of the same C(--check) run would create it) is
        predicted from its name, and the plan is reported.
    type: str
  state:
    description:
      - V(present) gives every selected instance O(instance_profile); V(absent) removes whatever profile
        they have.
    type: str
    choices: [present, absent]
    default: present
  propagation_timeout:
    description:
      - Seconds to keep retrying when EC2 does not know the instance profile yet (IAM propagation).
    type: int
    default: 120
attributes:
  check_mode:
    support: full
    description: Reads the fleet and returns the plan (what each instance would get); makes no mutating call.
  diff_mode:
    support: full
    description: Shows the profile of each changed instance before and after, for at most O(max_diff_instances) instances.
notes:
  - Needs C(ec2:DescribeInstances), C(ec2:DescribeIamInstanceProfileAssociations), C(iam:GetInstanceProfile)
    and, to change, C(ec2:AssociateIamInstanceProfile), C(ec2:ReplaceIamInstanceProfileAssociation),
    C(ec2:DisassociateIamInstanceProfile) and C(iam:PassRole) on the profile's role.
  - "On AWS, 1,000 instances without a profile take at least (1000 - 100) / 5 = 180 seconds: the
    C(AssociateIamInstanceProfile) bucket holds 100 tokens and refills 5 a second."
extends_documentation_fragment:
  - keyless.aws.aws
  - keyless.aws.fleet
  - keyless.aws.fleet.execution
"""

EXAMPLES = r"""
- name: Give every instance of the web fleet the AppServer profile
  keyless.aws.ec2_profile_association:
    region: eu-west-1
    tags:
      Fleet: web
    instance_profile: AppServer

- name: Preview the change for two instances, with a diff
  keyless.aws.ec2_profile_association:
    instance_ids: [i-0123456789abcdef0, i-0fedcba9876543210]
    instance_profile: arn:aws:iam::123456789012:instance-profile/AppServer
  check_mode: true
  diff: true

- name: Detach the profile from running and stopped instances of a subnet, leaving room in the rate limit
  keyless.aws.ec2_profile_association:
    filters:
      subnet-id: subnet-0123456789abcdef0
    state: absent
    rate_limits:
      DisassociateIamInstanceProfile: {capacity: 20, refill: 2}
"""

RETURN = r"""
changed:
  description: Whether any instance changed (in check mode - would change).
  returned: always
  type: bool
instance_profile:
  description: The resolved instance profile (predicted in check mode when it does not exist yet); null with O(state=absent).
  returned: always
  type: dict
  sample:
    name: AppServer
    arn: arn:aws:iam::123456789012:instance-profile/AppServer
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
      description: V(changed) (in check mode - would change), V(unchanged), V(skipped), V(held) or V(failed).
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
from ansible_collections.keyless.aws.plugins.module_utils.fleet.associations import validate_profile_option
from ansible_collections.keyless.aws.plugins.module_utils.fleet.steps import ProfileStep


def argument_spec():
    return frame.fleet_argument_spec(dict(
        instance_profile=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        propagation_timeout=dict(type="int", default=120),
    ))


def validate(params):
    errors = validate_profile_option(params.get("instance_profile"))
    if params.get("state") == "present" and not params.get("instance_profile"):
        errors.append("instance_profile is required with state=present: give the profile's name or ARN")
    if params.get("propagation_timeout") is not None and params["propagation_timeout"] < 0:
        errors.append("propagation_timeout=%r: must be 0 or more seconds" % params["propagation_timeout"])
    return errors


def converge(module, progress):
    run = frame.start(module, validate(module.params))
    actionable, skipped = frame.observe(module, run)
    step = ProfileStep(module.params, module.check_mode)
    results = frame.converge(module, run, [step], actionable, progress)[step.name]
    return frame.finish(module, run, skipped + results, step.verb, extra=step.report())


def main():
    module = aws_module(argument_spec())
    run_module(module, lambda progress: converge(module, progress))


if __name__ == "__main__":
    main()
