"""The benchmark's moto server: tests/support/moto_server.py with DescribeIamInstanceProfileAssociations
paged like AWS.

moto 5.2 reads that call's page size from `MaxItems`, a parameter the API does not have, and its request
parser drops it, so it always answers 100 associations a page whatever MaxResults says (AWS honours
MaxResults up to 1,000). Left alone, a 10,000-instance read would cost 100 calls on moto where it costs
10 on AWS, and the call counts would describe moto, not the code. This patch is the benchmark's only
change to moto.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from moto.core.responses import ActionResult  # noqa: E402
from moto.ec2.responses.iam_instance_profiles import IamInstanceProfiles  # noqa: E402

from tests.support.moto_server import main  # noqa: E402


def describe_iam_instance_profile_associations(self):
    association_ids = self._get_param("AssociationIds", [])
    filters = self._filters_from_querystring()
    max_results = self._get_param("MaxResults") or 100
    next_token = self._get_param("NextToken")
    associations, next_token = self.ec2_backend.describe_iam_instance_profile_associations(
        association_ids, filters, max_results, next_token)
    return ActionResult({"IamInstanceProfileAssociations": associations, "NextToken": next_token})


IamInstanceProfiles.describe_iam_instance_profile_associations = describe_iam_instance_profile_associations

if __name__ == "__main__":
    sys.exit(main())
