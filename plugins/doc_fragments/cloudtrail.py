# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Where CloudTrail's log files are: the options every module that reads a trail shares (iam_policy_from_activity,
    iam_access_key_info, iam_access_key)."""

    DOCUMENTATION = r"""
options:
  s3_bucket:
    description:
      - The bucket the trail delivers to. Required with O(source=s3).
    type: str
  s3_prefix:
    description:
      - The trail's S3 key prefix (the part before C(AWSLogs/)), if it has one.
    type: str
    default: ""
  local_path:
    description:
      - A directory of CloudTrail log files (the delivered layout, or any directory of C(.json.gz)/C(.json) files).
        Required with O(source=local).
    type: path
  organization_id:
    description:
      - For an organization trail, the organization id in the key layout
        (C(AWSLogs/<organization id>/<account>/CloudTrail/...)).
    type: str
"""
