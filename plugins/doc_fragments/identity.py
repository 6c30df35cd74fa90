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
  imdsv1_usage_check:
    description:
      - Before tightening O(http_tokens) to V(required), read each affected instance's C(MetadataNoToken)
        metric and hold back the instances that made IMDSv1 calls within O(imdsv1_lookback_days).
    type: bool
    default: false
  imdsv1_lookback_days:
    description:
      - The window, in days, of O(imdsv1_usage_check). AWS's migration guidance is 14 days without IMDSv1 calls.
    type: int
    default: 14
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
