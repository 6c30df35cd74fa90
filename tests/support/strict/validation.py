"""Behaviours that validate a request as AWS does before anything is read: filter_limit (EC2's 200 filter
values and MaxResults ranges) and sts_region (STS in opt-in and deactivated Regions)."""

from __future__ import annotations

import re

from tests.support.strict.core import Behaviour, error_answer

_FILTER_VALUE = re.compile(r"^Filter\.\d+\.Value\.\d+$")
_INSTANCE_ID = re.compile(r"^InstanceId\.\d+$")


def _filter_values(params):
    return sum(1 for key in params if _FILTER_VALUE.match(key))


class FilterLimit(Behaviour):
    """EC2 takes at most 200 filter values in one Describe call, counted over every filter of the call (every
    Filter.N.Value.M); more is refused with HTTP 400 FilterLimitExceeded before anything is read. Where EC2
    documents a MaxResults range (DescribeInstances 5-1000, ...), a value outside it is InvalidParameterValue,
    and DescribeInstances refuses InstanceIds together with MaxResults (InvalidParameterCombination). Moto
    accepts all of these."""

    name = "filter_limit"
    source = ("EC2 API reference, Filter data type and DescribeInstances (\"The maximum number of filter values "
              "specified on a single call is 200\", FilterLimitExceeded); DescribeInstances MaxResults: "
              "\"You cannot specify this parameter and the instance IDs parameter in the same request\" "
              "(botocore ec2 service model) and 5-1000 (EC2 API reference); MAX_RESULTS below from the "
              "service model's documented ranges; design.md, AWS facts: Filters")

    # action -> (least, most) MaxResults, as EC2's API reference / botocore's ec2 model documents them
    MAX_RESULTS = {"DescribeInstances": (5, 1000), "DescribeIamInstanceProfileAssociations": (5, 1000),
                   "DescribeTags": (5, 1000), "DescribeLaunchTemplateVersions": (1, 200)}

    def __init__(self, limit=200):
        self.limit = int(limit)

    def before(self, call, clock):
        if call.service != "ec2" or not call.action.startswith("Describe"):
            return None
        count = _filter_values(call.params)
        if count > self.limit:
            return error_answer("ec2", 400, "FilterLimitExceeded",
                                "The maximum number of filter values specified on a single call is %d" % self.limit)
        max_results = call.params.get("MaxResults")
        if max_results is None:
            return None
        if call.action == "DescribeInstances" and any(_INSTANCE_ID.match(k) for k in call.params):
            return error_answer("ec2", 400, "InvalidParameterCombination",
                                "The parameter instancesSet cannot be used with the parameter maxResults")
        bounds = self.MAX_RESULTS.get(call.action)
        try:
            value = int(max_results)
        except ValueError:
            value = None
        if bounds and (value is None or not bounds[0] <= value <= bounds[1]):
            return error_answer("ec2", 400, "InvalidParameterValue",
                                "Value ( %s ) for parameter maxResults is invalid. Expecting a value between "
                                "%d and %d." % (max_results, bounds[0], bounds[1]))
        return None


# Opt-in regions (disabled for an account until enabled), as AWS's Account Management guide lists them.
OPT_IN_REGIONS = ("af-south-1", "ap-east-1", "ap-south-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
                  "ap-southeast-7", "ca-west-1", "eu-central-2", "eu-south-1", "eu-south-2", "il-central-1",
                  "me-central-1", "me-south-1", "mx-central-1")


def _regions_for(setting, account):
    """Regions of `account` in an enabled_regions / deactivated_regions setting: a list (every account) or
    {account or "*": [regions]}."""
    if isinstance(setting, dict):
        return set(setting.get(account, ())) | set(setting.get("*", ()))
    return set(setting or ())


class StsRegion(Behaviour):
    """STS answers in an opt-in region only for accounts that enabled that region: a call signed for an opt-in
    region the caller's account has not enabled is refused with HTTP 403 InvalidClientTokenId "The security
    token included in the request is invalid." (the caller's own account: the one of the key that signs the
    STS call, not the account of the role it assumes). Where an account deactivated STS in a region, STS there
    answers 403 RegionDisabledException. Credentials from any regional endpoint work in every region, so the
    fix is to call STS in the caller's own region. Moto answers STS in every region."""

    name = "sts_region"
    source = ("IAM User Guide, \"Managing AWS STS in an AWS Region\" (activate/deactivate STS per Region, "
              "RegionDisabledException; session tokens from a Region work in every Region) and AWS Account "
              "Management Reference Guide, \"Enable or disable AWS Regions in your account\" (opt-in Regions; "
              "credentials for a Region not enabled are invalid: InvalidClientTokenId); design.md, AWS facts: STS")
    PARAMS = ("enabled_regions", "deactivated_regions")

    def __init__(self, enabled_regions=None, deactivated_regions=None):
        # {account or "*": [opt-in regions it enabled]} (or a list for every account); default: none
        self.enabled_regions = enabled_regions or {}
        # {account or "*": [regions where it deactivated STS]} (or a list for every account); default: none
        self.deactivated_regions = deactivated_regions or {}

    def configure(self, **params):
        unknown = sorted(set(params) - set(self.PARAMS))
        if unknown:
            raise ValueError("%s: unknown parameter(s) %s; known: %s" % (self.name, unknown, list(self.PARAMS)))
        for key, value in params.items():
            if not isinstance(value, (dict, list, tuple)) and value is not None:
                raise ValueError("%s.%s: a list of regions or {account: [regions]}, not %r" % (self.name, key, value))
            setattr(self, key, value or {})

    def before(self, call, clock):
        if call.service != "sts":
            return None
        if call.region in OPT_IN_REGIONS and call.region not in _regions_for(self.enabled_regions, call.account):
            return error_answer("sts", 403, "InvalidClientTokenId",
                                "The security token included in the request is invalid.", call.json_protocol)
        if call.region in _regions_for(self.deactivated_regions, call.account):
            return error_answer("sts", 403, "RegionDisabledException",
                                "STS is not activated in this region for account:%s. Your account administrator "
                                "can activate STS in this region using the IAM Console." % call.account,
                                call.json_protocol)
        return None
