# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Account-level IMDS defaults per region: validation, API <-> option mapping and the pure plan.

GetInstanceMetadataDefaults leaves a field out of `AccountLevel` when the account has no preference;
ModifyInstanceMetadataDefaults clears a field with `no-preference` (hop limit: -1) and keeps every
field the request leaves out. So the plan sends only the fields the user gave that differ.

Private to the collection: no stable API.
"""

from __future__ import annotations

from ansible_collections.keyless.aws.plugins.module_utils.aws import rules
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError
from ansible_collections.keyless.aws.plugins.module_utils.aws.plan import Change, Plan, apply_plan
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import call
from ansible_collections.keyless.aws.plugins.module_utils.fleet import metadata as instance_metadata

NO_PREFERENCE = "no-preference"
HOP_LIMIT_NO_PREFERENCE = -1

# The account defaults are four of an instance's metadata options (fleet/metadata.py: names, API keys, choices;
# not http_protocol_ipv6), each of which may also be no-preference, plus http_tokens_enforced (account only).
INSTANCE_OPTIONS = ("http_tokens", "http_put_response_hop_limit", "http_endpoint", "instance_metadata_tags")
# option name -> (API key, allowed values or None for the hop limit)
FIELDS = tuple(
    (name, instance_metadata.OPTION_TO_API[name],
     instance_metadata.CHOICES[name] + (NO_PREFERENCE,) if name in instance_metadata.CHOICES else None)
    for name in INSTANCE_OPTIONS
) + (("http_tokens_enforced", "HttpTokensEnforced", ("enabled", "disabled", NO_PREFERENCE)),)
FIELD_NAMES = tuple(name for name, _key, _choices in FIELDS)
API_KEYS = dict((name, key) for name, key, _choices in FIELDS)
CHOICES = dict((name, choices) for name, _key, choices in FIELDS if choices)


def validate(params):
    """Pure checks; returns a list of messages naming option, value and what is allowed."""
    errors = []
    hop = params.get("http_put_response_hop_limit")
    if hop is not None and hop != HOP_LIMIT_NO_PREFERENCE and not 1 <= hop <= 64:
        errors.append("http_put_response_hop_limit=%r is out of range: use 1 to 64, or -1 for no preference" % hop)
    for name, allowed in CHOICES.items():
        value = params.get(name)
        if value is not None and value not in allowed:
            errors.append("%s=%r is not allowed: use one of %s" % (name, value, ", ".join(allowed)))
    regions = params.get("regions")
    if regions is not None:
        if not regions:
            errors.append("regions=[] is empty: list at least one region, or leave it out to use region")
        seen = set()
        for region in regions:
            if not rules.is_region(region):
                errors.append("regions: %r is not a region name (expected e.g. us-east-1, eu-west-2)" % (region,))
            elif region in seen:
                errors.append("regions: %r is listed twice" % region)
            seen.add(region)
    return errors


def target_regions(params):
    """The regions the task covers: `regions`, else [region]; [] when neither is set."""
    if params.get("regions"):
        return list(params["regions"])
    return [params["region"]] if params.get("region") else []


def desired(params):
    """Only the fields the user gave: {option name: value}."""
    return dict((name, params[name]) for name in FIELD_NAMES if params.get(name) is not None)


def from_api(response):
    """GetInstanceMetadataDefaults response -> every field by option name (absent = no preference)."""
    level = (response or {}).get("AccountLevel") or {}
    out = {}
    for name, key, _choices in FIELDS:
        default = HOP_LIMIT_NO_PREFERENCE if name == "http_put_response_hop_limit" else NO_PREFERENCE
        value = level.get(key)
        out[name] = default if value is None else value
    out["managed_by"] = level.get("ManagedBy") or "account"
    out["managed_exception_message"] = level.get("ManagedExceptionMessage")
    return out


def settings(defaults):
    """The comparable fields only (no managed_by bookkeeping)."""
    return dict((name, defaults.get(name)) for name in FIELD_NAMES)


class RegionPlan:
    """What one region needs: its Change (ModifyInstanceMetadataDefaults with only the fields that differ, or
    None), the settings before and after, or why it cannot be changed (error), and warnings."""

    def __init__(self, region, before, after, request, error=None, warnings=()):
        self.region = region
        self.before = before
        self.after = after
        self.request = request
        self.error = error
        self.warnings = list(warnings)

    @property
    def changed(self):
        return bool(self.request)

    def changed_fields(self):
        return sorted(name for name in FIELD_NAMES if self.before.get(name) != self.after.get(name))

    @property
    def change(self):
        if not self.request:
            return None
        return Change("ModifyInstanceMetadataDefaults", "region %s" % self.region, dict(self.request), self.before,
                      self.after, service="ec2", region=self.region)


def read_region(ec2, region):
    """(defaults, error) of one region: one region's failure is reported, not raised, so the others go on."""
    try:
        return from_api(call(ec2, "GetInstanceMetadataDefaults", resource="region %s" % region)), None
    except AwsCallError as exc:
        return None, exc.text()


def apply_region(client_for, region_plan, progress):
    """Make the region's change; returns the error (one region's failure never stops the others) or None."""
    try:
        response = apply_plan(client_for, Plan([region_plan.change]), progress)[0]
    except AwsCallError as exc:
        return exc.text()
    if response.get("Return") is False:
        return "ModifyInstanceMetadataDefaults for region %s returned false" % region_plan.region
    return None


def plan_region(region, observed, want):
    """Pure: compare the given fields with what the region has; build the ModifyInstanceMetadataDefaults args."""
    before = settings(observed)
    after = dict(before)
    request = {}
    for name, value in want.items():
        if before.get(name) != value:
            after[name] = value
            request[API_KEYS[name]] = value
    error = None
    if request and observed.get("managed_by") == "declarative-policy":
        error = ("region %s: the IMDS defaults are managed by a declarative policy in AWS Organizations and "
                 "cannot be changed by the account (%s); change the policy instead, or leave out %s"
                 % (region, observed.get("managed_exception_message") or "no message from the policy",
                    ", ".join(sorted(n for n in want if before.get(n) != want[n]))))
    warnings = []
    if after.get("http_tokens_enforced") == "enabled" and after.get("http_tokens") != "required":
        warnings.append("region %s: http_tokens_enforced is enabled while the default http_tokens is %s: launches "
                        "that do not ask for IMDSv2 themselves will be refused" % (region, after.get("http_tokens")))
    return RegionPlan(region, before, after, request if not error else {}, error, warnings)


def plan(observed_by_region, want):
    """One RegionPlan per region, in the order given."""
    return [plan_region(region, observed, want) for region, observed in observed_by_region.items()]
