# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Instance metadata (IMDS) options: pure logic shared by ec2_metadata_options and launch templates.

Used by the metadata step and by launch templates (they use the same API field names):

    FIELDS: tuple of (option name, API name) pairs:
        http_tokens <-> HttpTokens, http_endpoint <-> HttpEndpoint,
        http_put_response_hop_limit <-> HttpPutResponseHopLimit, http_protocol_ipv6 <-> HttpProtocolIpv6,
        instance_metadata_tags <-> InstanceMetadataTags
    metadata_argument_spec() -> dict          the five options (no defaults: unset means "leave it")
    validate_metadata(params) -> list[str]     pure checks (hop limit 1-64, choices)
    desired_fields(params) -> dict            {API name: value} of only the options given (not None)
    metadata_changes(current, desired) -> dict {API name: {"before": current value, "after": desired}}
                                               only for fields that differ; {} means converged
    full_request(current, desired) -> dict    the ModifyInstanceMetadataOptions arguments: desired
                                               fields plus the current value of every field not named.
                                               AWS keeps an omitted field, moto drops it (hop limit back
                                               to 1): a full request is right on both. A field the
                                               current options do not report is left out.
    options_view(options) -> dict             {option name: value} of an API MetadataOptions dict,
                                               for before/after in results (State left out)

Security Hub EC2.8 wants HttpTokens=required whatever the endpoint; full_request never re-enables a
disabled endpoint unless http_endpoint was given, so tightening tokens is safe on disabled endpoints.

Private to the collection: no stable API.
"""

from __future__ import annotations

FIELDS = (
    ("http_tokens", "HttpTokens"),
    ("http_endpoint", "HttpEndpoint"),
    ("http_put_response_hop_limit", "HttpPutResponseHopLimit"),
    ("http_protocol_ipv6", "HttpProtocolIpv6"),
    ("instance_metadata_tags", "InstanceMetadataTags"),
)
OPTION_TO_API = dict(FIELDS)
API_TO_OPTION = {api: opt for opt, api in FIELDS}
CHOICES = {
    "http_tokens": ("optional", "required"),
    "http_endpoint": ("enabled", "disabled"),
    "http_protocol_ipv6": ("enabled", "disabled"),
    "instance_metadata_tags": ("enabled", "disabled"),
}
HOP_LIMIT_RANGE = (1, 64)


def metadata_argument_spec():
    spec = {opt: dict(type="str", choices=list(CHOICES[opt])) for opt in CHOICES}
    spec["http_put_response_hop_limit"] = dict(type="int")
    return spec


def validate_metadata(params):
    """Pure checks; returns a list of error messages."""
    errors = []
    for opt, choices in CHOICES.items():
        value = params.get(opt)
        if value is not None and value not in choices:
            errors.append("%s=%r: choose %s" % (opt, value, " or ".join(choices)))
    hop = params.get("http_put_response_hop_limit")
    if hop is not None:
        low, high = HOP_LIMIT_RANGE
        if isinstance(hop, bool) or not isinstance(hop, int) or not low <= hop <= high:
            errors.append("http_put_response_hop_limit=%r: must be a whole number from %d to %d (2 for "
                          "containers)" % (hop, low, high))
    return errors


def desired_fields(params):
    """{API name: value} for the options the user gave; an option left out is not compared or changed."""
    return {api: params[opt] for opt, api in FIELDS if params.get(opt) is not None}


def _same(api, current, desired):
    if api == "HttpPutResponseHopLimit" and current is not None:
        try:
            return int(current) == int(desired)
        except (TypeError, ValueError):
            return False
    return current == desired


def metadata_changes(current, desired):
    """Fields of `desired` whose value differs from `current` (API MetadataOptions dict)."""
    current = current or {}
    return {api: {"before": current.get(api), "after": value}
            for api, value in desired.items() if not _same(api, current.get(api), value)}


def full_request(current, desired):
    """ModifyInstanceMetadataOptions arguments (without InstanceId): see the module docstring."""
    current = current or {}
    request = {}
    for _opt, api in FIELDS:
        if api in desired:
            request[api] = desired[api]
        elif current.get(api) is not None:
            request[api] = current[api]
    return request


def options_view(options):
    """{option name: value} of an API MetadataOptions dict (State and unknown keys left out)."""
    options = options or {}
    return {opt: options[api] for opt, api in FIELDS if api in options}
