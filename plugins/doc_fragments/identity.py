# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # What the fleet steps converge, documented once: keyless.aws.identity.metadata (ec2_metadata_options,
    # ec2_instance_identity) and keyless.aws.identity.profile (ec2_instance_identity; ec2_profile_association
    # documents its own, with state=absent). Their argument specs are fleet.metadata.metadata_argument_spec()
    # and the modules' own.
    DOCUMENTATION = r"""
options: {}
"""

    METADATA = r"""
options:
  http_tokens:
    description:
      - V(required) enforces IMDSv2 (session tokens); V(optional) also allows IMDSv1.
    type: str
    choices: [optional, required]
  http_endpoint:
    description:
      - Whether the instance metadata endpoint is reachable at all. Left out, a disabled endpoint stays
        disabled.
    type: str
    choices: [enabled, disabled]
  http_put_response_hop_limit:
    description:
      - Hop limit of the token response, 1 to 64. Containers that reach IMDS through a bridge need 2.
    type: int
  http_protocol_ipv6:
    description:
      - Whether the IPv6 endpoint of IMDS is enabled (Nitro instances in IPv6 subnets).
    type: str
    choices: [enabled, disabled]
  instance_metadata_tags:
    description:
      - Whether the instance's tags are readable from the instance metadata.
    type: str
    choices: [enabled, disabled]
"""

    SAFE_ROLLOUT = r"""
options:
  imdsv1_usage_check:
    description:
      - Before tightening O(http_tokens) to V(required), read each affected instance's IMDSv1 evidence from CloudWatch
        (AWS/EC2 C(MetadataNoToken) and C(MetadataNoTokenRejected), daily sums over O(imdsv1_lookback_days), two
        queries per instance, C(GetMetricData) 250 instances a call) and hold back (status V(held), left untouched,
        listed in RV(held) with its signal, daily sums and reason) every instance whose signal is V(calls) (IMDSv1
        calls, or calls refused while it was required before), V(unknown) (CloudWatch gave no answer for it), or
        V(no_data) (fewer than O(imdsv1_min_days) days with data - see O(imdsv1_no_data)).
    type: bool
    default: false
  imdsv1_lookback_days:
    description:
      - The window, in UTC days (today's part included), of O(imdsv1_usage_check), 1 to 455. AWS's migration guidance
        is 14 days without IMDSv1 calls.
    type: int
    default: 14
  imdsv1_min_days:
    description:
      - Days of the window that must have a C(MetadataNoToken) datapoint for "no call" to count as evidence (EC2
        publishes a value, 0 included, while an instance runs). Not set, half the window rounded up (7 of 14).
    type: int
  imdsv1_no_data:
    description:
      - What to do with an instance without enough days of data (stopped through the window, just launched, metric not
        published). V(hold) keeps it at its current O(http_tokens) as "no evidence"; V(enforce) accepts absence as clean.
    type: str
    choices: [hold, enforce]
    default: hold
  waves:
    description:
      - Require IMDSv2 in waves instead of all at once. Either cumulative percentages of the instances this run would
        require it on (V([1, 10, 50, 100]) means 1 %, then up to 10 %, ...; each wave at least one instance) or explicit
        groups of instance ids (V([[i-0a..., i-0b...], [i-0c...]])). Instances whose change does not require IMDSv2 go
        with the first wave. Instances no wave takes (not in a group, or above a last percentage under 100) are
        held for a later run.
      - Each wave is applied and waited for, then watched for O(watch_seconds) before the next starts.
      - Needs O(http_tokens=required). Empty, one wave.
    type: list
    elements: raw
    default: []
  watch_seconds:
    description:
      - After each wave, read C(MetadataNoTokenRejected) of the instances it required (every third of the watch, at
        most every minute, one C(GetMetricData) per 500 instances) for this many seconds, 0 to 86400. An instance whose
        refused IMDSv1 calls rise is put back to C(http_tokens=optional) at once - that field only, every other
        option as the wave left it - reported V(rolled_back) with its count (RV(rolled_back)), and held by the
        signal next time. V(0) watches nothing.
      - CloudWatch publishes the metric every 5 minutes (every minute with detailed monitoring) and a datapoint can
        take a few minutes to appear, so on AWS watch at least 10 to 15 minutes.
    type: int
    default: 0
  rollback_threshold:
    description:
      - When more than this percentage of a wave's watched instances was rolled back, stop the rollout before the next
        wave (its instances reported V(skipped), the task failed naming the instances rolled back).
    type: float
    default: 10.0
  fail_on_held:
    description:
      - Fail the task (after converging every other instance) when any instance was held back by
        O(imdsv1_usage_check) or O(waves).
    type: bool
    default: false
"""

    PROFILE = r"""
options:
  instance_profile:
    description:
      - Name or ARN of the instance profile every selected instance must have.
      - It is resolved once with C(iam:GetInstanceProfile) and must hold a role. In check mode a profile
        that does not exist yet (an earlier task of the same C(--check) run would create it) is
        predicted from its name, and the plan is reported.
    type: str
  propagation_timeout:
    description:
      - Seconds to keep retrying when EC2 does not know the instance profile yet (IAM propagation). The
        call that needs the profile is retried; nothing waits before it.
    type: int
    default: 120
"""
