"""The strict-AWS layer: WSGI middleware in front of moto that answers as AWS does where moto is lenient.

Every moto server of the suite (tests/support/moto_server.py: scenarios, integration targets, molecule,
demo, bench) serves through it, with every behaviour on by default. Moto stays the store; each behaviour
below refuses a request before moto sees it, or rewrites moto's answer, and cites the AWS source that
says AWS acts so. A test that needs moto's plain answers switches behaviours off one by one.

Interface (shared by every behaviour module, e.g. tests/support/strict_state.py):

    Call        one parsed AWS request: service, action, region, access_key, account, params (flat query
                parameters, e.g. {"Filter.1.Name": "tag:Team", "Filter.1.Value.1": "a"}; the JSON object of a
                JSON-protocol request), body, json_protocol
    Answer      status, headers [(name, value)], body (bytes)
    error_answer(service, status, code, message, json_protocol=False) -> Answer in the service's error shape
    StrictClock .now() -> AWS seconds (real monotonic seconds x speed); .speed; .set_speed(x) (continuous)
    Behaviour   name (the switch), source (doc page / service model / provider file that says AWS does so)
                reset(); before(call, clock) -> Answer or None (None: forward); after(call, answer, clock)
                -> Answer (may rewrite what moto answered); params() / configure(**params) (the public
                scalar attributes by default, or the names in PARAMS); state() -> extra JSON for GET

`account` of a Call: the account learnt from the STS answers that passed through the layer (an AssumeRole
answer maps its AccessKeyId to the account of its assumed-role ARN; GetSessionToken / GetFederationToken
and IAM CreateAccessKey map the new key to the caller's account), else the access key itself (one key,
one account: moto's default account for every key it did not issue).

The middleware, StrictAws(app, behaviours=None, speed=10, enabled="all"), parses each signed request into a
Call, runs the `before` of each enabled behaviour in order (the first Answer is sent without forwarding, and
counted as refused by that behaviour), forwards to `app`, then runs the `after` of every enabled behaviour.
Unsigned requests, /_keyless/* and /moto-api/* pass through untouched; /moto-api/reset also resets every
behaviour (and the layer's stats and learnt keys).

Switches:
    KEYLESS_STRICT        "all" (default), "none", names to run only those ("rate_limit,filter_limit"),
                          or "-name" to switch one off ("-filter_limit,-rate_limit"), "+name" to add one
    KEYLESS_STRICT_SPEED  AWS seconds per real second (default 10 in tests; the bench sets 1)
    read by tests/support/moto_server.py when it builds the app (also its --strict / --strict-speed flags and
    MotoServer(strict=..., strict_speed=...)).
    GET  /_keyless/strict -> {"enabled", "available", "speed", "stats": {"refused": {behaviour: {action: n}},
         "rewritten": {...}}, "behaviours": {name: {"enabled", "source", "params", "state"}}}
    POST /_keyless/strict {"disable": [...], "enable": [...], "speed": x, "reset": true, "reset_stats": true,
         "<behaviour>": {params}} -> the same JSON ("all" in enable/disable means every behaviour)
    strict_config(url, **kw), strict_stats(url), strict_off(url, names=None) (a context manager),
    strict_restore(url, snapshot) (back to an earlier strict_stats()) for tests.

Why the tests run at speed 10: AWS's windows (IAM propagation, `associating`, `pending`) last seconds and its
mutating buckets refill 5 a second; at x10 a window is under a second and a mutating bucket refills 50 a
second (still below what moto serves, so bursts are throttled as on AWS), which keeps the suite within its
time while every behaviour stays observable. The bench runs at 1 (AWS's own clock) because its figures are
ratios to AWS's bound. Bucket capacities never scale (see RateLimit).

Test-side clients: html_5xx answers some first attempts with an HTML page that botocore cannot parse and does
not retry (ResponseParserError) in any retry mode. The harness's own clients (seeding, assertions) survive it
with retry_html_5xx(client) or, process-wide, harness_retries_html_5xx(); never install those in a process
whose product code is the subject of the test.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import json
import os
import re
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field

ENV_SWITCHES = "KEYLESS_STRICT"
ENV_SPEED = "KEYLESS_STRICT_SPEED"
DEFAULT_SPEED = 10.0
READ_PREFIXES = ("Describe", "Get", "List", "Search", "Lookup")
_SCOPE = re.compile(r"Credential=([^/,\s]+)/[0-9]+/([^/]+)/([^/]+)/")


# -- the interface --------------------------------------------------------------------------------------------
@dataclass
class Call:
    service: str
    action: str
    region: str
    access_key: str = ""
    account: str = ""
    params: dict = field(default_factory=dict)
    body: bytes = b""
    json_protocol: bool = False


@dataclass
class Answer:
    status: int
    headers: list
    body: bytes


def _xml_escape(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def error_answer(service, status, code, message, json_protocol=False):
    """An AWS error in the shape botocore parses for `service` (EC2: <Response><Errors>; IAM/STS and the
    other query services: <ErrorResponse>; JSON services: {"__type", "message"})."""
    request_id = str(uuid.uuid4())
    if json_protocol:
        return Answer(status, [("Content-Type", "application/x-amz-json-1.1")],
                      json.dumps({"__type": code, "message": message}).encode())
    if service == "ec2":
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>%s</Code>"
                "<Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>"
                % (code, _xml_escape(message), request_id))
    else:
        kind = "Receiver" if status >= 500 else "Sender"
        body = ("<ErrorResponse xmlns=\"https://%s.amazonaws.com/doc/\"><Error><Type>%s</Type>"
                "<Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>"
                % (service, kind, code, _xml_escape(message), request_id))
    return Answer(status, [("Content-Type", "text/xml")], body.encode())


class StrictClock:
    """AWS time as the strict layer sees it: real monotonic seconds times `speed` (tests run AWS's windows
    and buckets faster; the bench runs them at speed 1). Changing the speed keeps the time continuous."""

    def __init__(self, speed=1.0, clock=time.monotonic):
        self.speed = float(speed)
        self._clock = clock
        self._origin = clock()
        self._base = 0.0
        self._lock = threading.Lock()

    def now(self):
        return self._base + (self._clock() - self._origin) * self.speed

    def set_speed(self, speed):
        speed = float(speed)
        if speed <= 0:
            raise ValueError("speed must be > 0, not %r" % (speed,))
        with self._lock:
            self._base = self.now()
            self._origin = self._clock()
            self.speed = speed


_SCALARS = (bool, int, float, str)


class Behaviour:
    """One way AWS is stricter than moto. Subclasses set `name` and `source` and override what they need."""

    name = ""
    source = ""
    PARAMS = None  # names configure() may set; None: every public scalar attribute

    def reset(self):
        """Forget every state (moto was reset)."""

    def before(self, call, clock):
        """An Answer to send instead of forwarding the call to moto, or None to forward it."""
        return None

    def after(self, call, answer, clock):
        """The answer to send back, given what moto answered (rewrite it, or return it as it is)."""
        return answer

    def params(self):
        """The behaviour's parameters (JSON-able), as the control endpoint shows them."""
        names = self.PARAMS if self.PARAMS is not None else [
            k for k, v in vars(self).items() if not k.startswith("_") and isinstance(v, _SCALARS)]
        return {k: getattr(self, k) for k in names}

    def configure(self, **params):
        """Set parameters (POST /_keyless/strict {"<name>": {...}}); a value takes the type of the current one."""
        known = self.params()
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ValueError("%s: unknown parameter(s) %s; known: %s" % (self.name, unknown, sorted(known)))
        for key, value in params.items():
            current = known[key]
            if isinstance(current, bool):
                value = bool(value)
            elif isinstance(current, (int, float)) and not isinstance(value, bool):
                value = type(current)(value)
            setattr(self, key, value)

    def state(self):
        """Extra JSON-able state for GET /_keyless/strict (buckets, windows...)."""
        return {}


# -- request helpers -------------------------------------------------------------------------------------------
def is_mutating(action):
    """A mutating action (EC2's category): anything not Describe*/Get*/List*/Search* (or Lookup*)."""
    return not action.startswith(READ_PREFIXES)


def draw(seed, key, occurrence):
    """A uniform number in [0, 1), a pure function of its arguments."""
    digest = hashlib.sha256(("%s|%s|%d" % (seed, key, occurrence)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


_ASSUMED_KEY = re.compile(rb"<AccessKeyId>([^<]+)</AccessKeyId>")
_ASSUMED_ARN = re.compile(rb"<Arn>arn:[^:<]+:sts::([0-9]{12}):assumed-role/")


def assumed_key_account(xml_bytes):
    """(access key id, account id) of an STS AssumeRole answer, or (None, None)."""
    key, arn = _ASSUMED_KEY.search(xml_bytes or b""), _ASSUMED_ARN.search(xml_bytes or b"")
    return (key.group(1).decode(), arn.group(1).decode()) if key and arn else (None, None)


def issued_key(xml_bytes):
    """The AccessKeyId an answer hands out (GetSessionToken, GetFederationToken, CreateAccessKey), or None."""
    key = _ASSUMED_KEY.search(xml_bytes or b"")
    return key.group(1).decode() if key else None


def parse_call(environ, body):
    """The Call of a SigV4-signed WSGI request, or None (unsigned: IMDS paths, moto's own API)."""
    match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not match:
        return None
    access_key, region, service = match.groups()
    target = environ.get("HTTP_X_AMZ_TARGET")
    path = environ.get("PATH_INFO", "")
    params = {}
    json_protocol = False
    if target:
        json_protocol = True
        action = target.rsplit(".", 1)[-1]
        try:
            loaded = json.loads(body or b"{}")
            params = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            params = {}
    elif "/operation/" in path:  # smithy rpc-v2-cbor
        action = path.rsplit("/", 1)[-1]
    else:
        form = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if body and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            form.update(urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
        params = {k: v[0] for k, v in form.items()}
        action = params.get("Action") or "%s %s" % (environ.get("REQUEST_METHOD"), path)
    return Call(service=service, action=action, region=region, access_key=access_key, account=access_key,
                params=params, body=body, json_protocol=json_protocol)


def _filter_values(params):
    return sum(1 for key in params if _FILTER_VALUE.match(key))


_FILTER_VALUE = re.compile(r"^Filter\.\d+\.Value\.\d+$")
_INSTANCE_ID = re.compile(r"^InstanceId\.\d+$")


# -- behaviours ------------------------------------------------------------------------------------------------
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


HTML_5XX_PAGE = b"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>503 Service Unavailable</title>
</head>
<body>
<h1>Service Unavailable</h1>
<p>The server is temporarily unable to service your request. Please try again later.<br>
</p>
</body>
</html>
"""


class Html5xx(Behaviour):
    """A share of requests is answered HTTP 503 with an HTML page instead of AWS's XML error, as a load balancer
    or an overloaded front end sends one; any 5xx is transient, whatever its body, and the request should be
    retried. botocore treats a 5xx body as a generic (retryable) error only when it starts with `<html>`; this
    page starts with `<!DOCTYPE html>`, so botocore tries to parse it as XML and raises ResponseParserError,
    which no botocore retry mode retries: the caller must. Which requests: the first attempt of about 1 in 50
    (`rate`) mutating EC2 and IAM requests, decided by a pure function of (seed, the request body, how many
    times that exact body was seen), so a retry (same body) passes and a run is repeatable. rate 0: never."""

    name = "html_5xx"
    source = ("AWS General Reference, \"Error retries and exponential backoff in AWS\" (retry 5xx server errors); "
              "EC2 developer guide, \"Request throttling for the Amazon EC2 API\", Retries and exponential backoff "
              "(\"retry an API request ... after it fails with a server error (5xx)\"); botocore/parsers.py "
              "ResponseParser._is_generic_error_response (only a body starting with <html> is generic)")
    PARAMS = ("rate", "seed", "services", "mutating_only", "first_attempt_only", "status")

    def __init__(self, rate=0.02, seed=0, services=("ec2", "iam"), mutating_only=True, first_attempt_only=True,
                 status=503):
        self.rate = float(rate)
        self.seed = seed
        self.services = list(services)
        self.mutating_only = bool(mutating_only)
        self.first_attempt_only = bool(first_attempt_only)
        self.status = int(status)
        self._lock = threading.Lock()
        self._seen = {}
        self.answered = 0

    def reset(self):
        with self._lock:
            self._seen.clear()

    def configure(self, **params):
        if "services" in params:
            params["services"] = list(params["services"])
        unknown = sorted(set(params) - set(self.PARAMS))
        if unknown:
            raise ValueError("%s: unknown parameter(s) %s; known: %s" % (self.name, unknown, list(self.PARAMS)))
        for key, value in params.items():
            current = getattr(self, key)
            setattr(self, key, value if isinstance(current, (list, str)) or key == "seed" else type(current)(value))

    def before(self, call, clock):
        if not self.rate or call.service not in self.services:
            return None
        if self.mutating_only and not is_mutating(call.action):
            return None
        key = "%s|%s|%s" % (call.service, call.action, hashlib.sha256(call.body).hexdigest())
        with self._lock:
            occurrence = self._seen.get(key, 0)
            self._seen[key] = occurrence + 1
        if self.first_attempt_only and occurrence:
            return None
        if draw(self.seed, key, occurrence) >= self.rate:
            return None
        return Answer(self.status, [("Content-Type", "text/html; charset=utf-8")], HTML_5XX_PAGE)


# EC2's request token buckets: name -> (bucket maximum capacity, refill per second). Source: EC2 developer guide,
# "Request throttling for the Amazon EC2 API" (docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html),
# "Request token bucket sizes and refill rates", read 2026-12 through the session's search tool. Each API action
# has its own bucket per account and Region ("each API is evaluated individually"); its size comes from its
# category unless the page lists the action among the uncategorized actions with numbers of its own.
#   - ReplaceIamInstanceProfileAssociation: not listed -> mutating, 50 / 5.
#   - DisassociateIamInstanceProfile: listed, 100 / 5 (design.md said 50 / 5: wrong).
#   - AssociateIamInstanceProfile, ModifyInstanceMetadataOptions: listed, 100 / 5.
#   - DescribeIamInstanceProfileAssociations: not listed -> non-mutating, 100 / 20 (not in the unfiltered list).
#   - DescribeInstances: non-mutating 100 / 20; without a filter and without pagination (no Filter.N, no
#     MaxResults / NextToken) it is in the "unfiltered and unpaginated" list: its own smaller bucket, 50 / 10.
#     The page names filters and pagination only; instance ids do not move a call to the larger bucket.
#   - RunInstances 5 / 2 and StartInstances 5 / 2 (listed); both also have resource buckets (instances:
#     RunInstances 1,000 / 2, StartInstances 1,000 / 2, StopInstances and TerminateInstances 1,000 / 20) that are
#     NOT modelled here (seeding 10,000 instances would take over an hour at AWS's speed).
#   - Console non-mutating actions (100 / 10) are not modelled (no console here).
EC2_RATE_LIMITS = {
    # category defaults
    "non_mutating": (100, 20.0),            # Describe*, Get*, List*, Search* not listed elsewhere
    "unfiltered_unpaginated": (50, 10.0),   # the actions of UNFILTERED_UNPAGINATED, with no filter and no paging
    "mutating": (50, 5.0),                  # every other action (resource-intensive actions are 50 / 5 too)
    # uncategorized actions: buckets of their own (the page's table)
    "AcceptVpcEndpointConnections": (10, 1.0), "AdvertiseByoipCidr": (1, 0.1), "AssignIpv6Addresses": (100, 5.0),
    "AssignPrivateIpAddresses": (100, 5.0), "AssignPrivateNatGatewayAddress": (10, 1.0),
    "AssociateCapacityReservationBillingOwner": (1, 0.5), "AssociateEnclaveCertificateIamRole": (10, 1.0),
    "AssociateIamInstanceProfile": (100, 5.0), "AssociateNatGatewayAddress": (10, 1.0),
    "AttachVerifiedAccessTrustProvider": (10, 2.0), "AuthorizeClientVpnIngress": (5, 2.0),
    "CancelDeclarativePoliciesReport": (1, 1.0), "CopyImage": (100, 1.0), "CreateClientVpnRoute": (5, 2.0),
    "CreateCoipCidr": (5, 1.0), "CreateCoipPool": (5, 1.0), "CreateDefaultSubnet": (1, 1.0),
    "CreateDefaultVpc": (1, 1.0), "CreateLaunchTemplateVersion": (100, 5.0), "CreateNatGateway": (10, 1.0),
    "CreateNetworkInterface": (100, 5.0), "CreateRestoreImageTask": (50, 0.1), "CreateSnapshot": (100, 5.0),
    "CreateSnapshots": (100, 5.0), "CreateSpotDatafeedSubscription": (50, 3.0), "CreateStoreImageTask": (50, 0.1),
    "CreateSubnetCidrReservation": (5, 1.0), "CreateTags": (100, 10.0), "CreateVerifiedAccessEndpoint": (20, 4.0),
    "CreateVerifiedAccessGroup": (10, 2.0), "CreateVerifiedAccessInstance": (10, 2.0),
    "CreateVerifiedAccessTrustProvider": (10, 2.0), "CreateVolume": (100, 5.0), "CreateVpcEndpoint": (4, 0.3),
    "CreateVpcEndpointServiceConfiguration": (10, 1.0), "DeleteClientVpnRoute": (5, 2.0),
    "DeleteCoipCidr": (5, 1.0), "DeleteCoipPool": (5, 1.0), "DeleteCoipPoolPermission": (5, 1.0),
    "DeleteNatGateway": (10, 1.0), "DeleteNetworkInterface": (100, 5.0), "DeleteSnapshot": (100, 5.0),
    "DeleteSpotDatafeedSubscription": (50, 3.0), "DeleteSubnetCidrReservation": (5, 1.0),
    "DeleteQueuedReservedInstances": (5, 5.0), "DeleteTags": (100, 10.0), "DeleteVerifiedAccessEndpoint": (20, 4.0),
    "DeleteVerifiedAccessGroup": (10, 2.0), "DeleteVerifiedAccessInstance": (10, 2.0),
    "DeleteVerifiedAccessTrustProvider": (10, 2.0), "DeleteVolume": (100, 5.0), "DeleteVpcEndpoints": (4, 0.3),
    "DeleteVpcEndpointServiceConfigurations": (10, 1.0), "DeprovisionByoipCidr": (1, 0.1),
    "DeregisterImage": (100, 5.0), "DescribeAggregateIdFormat": (10, 10.0), "DescribeByoipCidrs": (1, 0.5),
    "DescribeCapacityBlockExtensionOfferings": (10, 0.15), "DescribeCapacityBlockOfferings": (10, 0.15),
    "DescribeDeclarativePoliciesReports": (5, 5.0), "DescribeHostReservations": (5, 2.0),
    "DescribeHostReservationOfferings": (5, 2.0), "DescribeIdentityIdFormat": (10, 10.0),
    "DescribeIdFormat": (10, 10.0), "DescribeInstanceTopology": (1, 1.0), "DescribeMovingAddresses": (1, 1.0),
    "DescribePrincipalIdFormat": (10, 10.0), "DescribeReservedInstancesOfferings": (10, 10.0),
    "DescribeSecurityGroupReferences": (20, 5.0), "DescribeSpotDatafeedSubscription": (100, 13.0),
    "DescribeSpotFleetInstances": (100, 5.0), "DescribeSpotFleetRequestHistory": (100, 5.0),
    "DescribeSpotFleetRequests": (50, 3.0), "DescribeStaleSecurityGroups": (20, 5.0),
    "DescribeStoreImageTasks": (50, 0.5), "DescribeVerifiedAccessInstanceLoggingConfigurations": (10, 2.0),
    "DetachVerifiedAccessTrustProvider": (10, 2.0), "DisableFastLaunch": (5, 2.0),
    "DisableImageBlockPublicAccess": (1, 0.1), "DisableSnapshotBlockPublicAccess": (1, 0.1),
    "DisassociateCapacityReservationBillingOwner": (1, 0.5), "DisassociateEnclaveCertificateIamRole": (10, 1.0),
    "DisassociateIamInstanceProfile": (100, 5.0), "DisassociateNatGatewayAddress": (10, 1.0),
    "EnableFastLaunch": (5, 2.0), "EnableImageBlockPublicAccess": (1, 0.1), "EnableSnapshotBlockPublicAccess": (1, 0.1),
    "GetAssociatedEnclaveCertificateIamRoles": (10, 1.0), "GetDeclarativePoliciesReportSummary": (5, 5.0),
    "GetHostReservationPurchasePreview": (5, 2.0), "ModifyImageAttribute": (100, 5.0),
    "ModifyInstanceMetadataDefaults": (2, 2.0), "ModifyInstanceMetadataOptions": (100, 5.0),
    "ModifyLaunchTemplate": (100, 5.0), "ModifyNetworkInterfaceAttribute": (100, 5.0),
    "ModifySnapshotAttribute": (100, 5.0), "ModifyVerifiedAccessEndpoint": (20, 4.0),
    "ModifyVerifiedAccessEndpointPolicy": (20, 4.0), "ModifyVerifiedAccessGroup": (10, 2.0),
    "ModifyVerifiedAccessGroupPolicy": (20, 4.0), "ModifyVerifiedAccessInstance": (10, 2.0),
    "ModifyVerifiedAccessInstanceLoggingConfiguration": (10, 2.0), "ModifyVerifiedAccessTrustProvider": (10, 2.0),
    "ModifyVpcEndpoint": (4, 0.3), "ModifyVpcEndpointServiceConfiguration": (10, 1.0), "MoveAddressToVpc": (1, 1.0),
    "ProvisionByoipCidr": (1, 0.1), "PurchaseCapacityBlock": (10, 0.15), "PurchaseCapacityBlockExtension": (10, 0.15),
    "PurchaseHostReservation": (5, 2.0), "PurchaseReservedInstancesOffering": (5, 5.0),
    "RejectVpcEndpointConnections": (10, 1.0), "RestoreAddressToClassic": (1, 1.0), "RevokeClientVpnIngress": (5, 2.0),
    "RunInstances": (5, 2.0), "StartDeclarativePoliciesReport": (1, 1.0), "StartInstances": (5, 2.0),
    "TerminateInstances": (100, 5.0), "UnassignPrivateIpAddresses": (100, 5.0),
    "UnassignPrivateNatGatewayAddress": (10, 1.0), "WithdrawByoipCidr": (1, 0.1),
}
CATEGORIES = ("non_mutating", "unfiltered_unpaginated", "mutating")
UNFILTERED_UNPAGINATED = ("DescribeInstances", "DescribeInstanceStatus", "DescribeNetworkInterfaces",
                          "DescribeSecurityGroups", "DescribeSnapshots", "DescribeSpotInstanceRequests",
                          "DescribeVolumes")
UNFILTERED_SUFFIX = ":unfiltered"


def category_of(action):
    """EC2's throttling category of an action (without its request): non_mutating or mutating."""
    return "non_mutating" if action.startswith(("Describe", "Get", "List", "Search")) else "mutating"


def is_unfiltered_unpaginated(action, params):
    """A call of one of the listed Describe actions with no filter and no pagination."""
    return (action in UNFILTERED_UNPAGINATED and not any(k.startswith("Filter.") for k in params)
            and "MaxResults" not in params and "NextToken" not in params)


def rate_limit_of(action, unfiltered=False, limits=None):
    """(bucket name, capacity, refill per second) of an EC2 action in `limits` (EC2_RATE_LIMITS by default).
    `unfiltered`: the call had no filter and no pagination (matters for UNFILTERED_UNPAGINATED only); its bucket
    is "<Action>:unfiltered", overridable under that name or as the unfiltered_unpaginated category."""
    limits = EC2_RATE_LIMITS if limits is None else limits
    if unfiltered and action in UNFILTERED_UNPAGINATED:
        name = action + UNFILTERED_SUFFIX
        capacity, refill = limits.get(name) or limits["unfiltered_unpaginated"]
        return name, capacity, refill
    capacity, refill = limits.get(action) or limits[category_of(action)]
    return action, capacity, refill


def bound_seconds(n_calls, capacity, refill, scale=1.0):
    """The least real time `n_calls` calls from one bucket can take: (N - capacity) / (refill * scale)."""
    return max(0.0, (n_calls - capacity) / (refill * scale))


class TokenBucket:
    """AWS's side of one bucket: starts full, refills continuously, one token per call or throttled (a throttled
    call takes nothing). `clock` returns seconds (the strict layer passes StrictClock.now: AWS seconds);
    `scale` multiplies the refill on top (kept for callers with a plain clock)."""

    def __init__(self, capacity, refill, scale=1.0, clock=time.monotonic):
        self.capacity = float(capacity)
        self.refill = float(refill)
        self.scale = float(scale)
        self.clock = clock
        self.tokens = float(capacity)
        self.stamp = clock()
        self.lock = threading.Lock()
        # the fewest tokens a call found on arrival: the headroom a paced client kept (below 1: throttled)
        self.low = self.tokens
        self.taken = 0
        self.throttled = 0

    def _update(self):
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.refill * self.scale)
        self.stamp = now

    def take(self):
        """Spend one token if there is one; False means throttle (and nothing is spent)."""
        with self.lock:
            self._update()
            self.low = min(self.low, self.tokens)
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                self.taken += 1
                return True
            self.throttled += 1
            return False

    def level(self):
        with self.lock:
            self._update()
            return self.tokens


def _limit_pair(name, value):
    if isinstance(value, dict):
        value = (value["capacity"], value["refill"])
    capacity, refill = value
    if float(capacity) < 1 or float(refill) <= 0:
        raise ValueError("rate_limit.limits[%r]: capacity >= 1 and refill > 0, not %r" % (name, value))
    return (int(capacity), float(refill))


class RateLimit(Behaviour):
    """EC2 throttles each API action separately, per account and Region, with a token bucket: it starts full
    (bucket maximum capacity), refills `refill` tokens a second, each request takes one token, and a request
    that finds the bucket empty is refused with HTTP 503 RequestLimitExceeded "Request limit exceeded." (and
    takes no token). An action's bucket size comes from its category (EC2_RATE_LIMITS) unless AWS lists the
    action with a size of its own; limits can be raised per account, so every bucket is overridable
    ({"rate_limit": {"limits": {"DescribeInstances": [100, 20]}}}, by action, "<Action>:unfiltered" or category).
    The buckets run on the StrictClock: at speed s they refill s times faster while their capacity stays the
    same, so a token-limited phase takes 1/s of its AWS time and its bound shrinks by the same 1/s (the ratio of
    a run to its bound is kept; scaling capacities too would flatter every run). The account is the one learnt
    from STS answers (every session of one assumed role draws from its account's buckets)."""

    name = "rate_limit"
    source = ("EC2 developer guide, \"Request throttling for the Amazon EC2 API\" (token bucket per API action per "
              "account and Region; RequestLimitExceeded; \"Request token bucket sizes and refill rates\": see "
              "EC2_RATE_LIMITS); design.md, AWS facts: Rate limits")
    PARAMS = ("limits", "services")

    def __init__(self, limits=None):
        self.services = ["ec2"]
        self._lock = threading.Lock()
        self._buckets = {}
        self._overrides = {}
        self._limits = dict(EC2_RATE_LIMITS)
        if limits:
            self.configure(limits=limits)

    @property
    def limits(self):
        return {k: list(v) for k, v in sorted(self._overrides.items())}

    def reset(self):
        with self._lock:
            self._buckets.clear()

    def configure(self, **params):
        unknown = sorted(set(params) - set(self.PARAMS))
        if unknown:
            raise ValueError("%s: unknown parameter(s) %s; known: %s" % (self.name, unknown, list(self.PARAMS)))
        if "services" in params:
            self.services = list(params["services"])
        if "limits" in params:
            overrides = {k: _limit_pair(k, v) for k, v in (params["limits"] or {}).items()}
            with self._lock:
                self._overrides = overrides
                self._limits = dict(EC2_RATE_LIMITS, **overrides)
                self._buckets.clear()  # new buckets, full, under the new limits

    def bucket(self, call, clock):
        name, capacity, refill = rate_limit_of(call.action, is_unfiltered_unpaginated(call.action, call.params),
                                               self._limits)
        key = (call.account, call.region, name)
        with self._lock:
            found = self._buckets.get(key)
            if found is None:
                found = self._buckets[key] = TokenBucket(capacity, refill, clock=clock.now)
            return found

    def before(self, call, clock):
        if call.service not in self.services or call.json_protocol:
            return None
        if self.bucket(call, clock).take():
            return None
        return error_answer(call.service, 503, "RequestLimitExceeded", "Request limit exceeded.")

    def state(self):
        with self._lock:
            buckets = dict(self._buckets)
        return {"buckets": {"%s/%s/%s" % key: {"capacity": b.capacity, "refill": b.refill, "tokens": round(b.level(), 3),
                                               "low": round(b.low, 3), "taken": b.taken, "throttled": b.throttled}
                            for key, b in sorted(buckets.items())}}

    def reset_stats(self):
        with self._lock:
            for b in self._buckets.values():
                with b.lock:
                    b.low, b.taken, b.throttled = b.tokens, 0, 0


def own_behaviours():
    """A fresh instance of each behaviour of this module, in the order the layer runs them: the front end
    (html_5xx) first, then throttling, then request validation."""
    return [Html5xx(), RateLimit(), FilterLimit(), StsRegion()]


def default_behaviours():
    """Every behaviour of the layer: this module's (fresh) and tests/support/strict_state.py's."""
    from tests.support.strict_state import BEHAVIOURS as STATE_BEHAVIOURS
    return own_behaviours() + [b() if isinstance(b, type) else b for b in STATE_BEHAVIOURS]


def parse_switches(spec, names):
    """The enabled names of a KEYLESS_STRICT spec: "all", "none", "a,b" (only those), "-a,-b" (all but those),
    "none,+a" / "all,-a"; an unknown name is an error (a typo would silently leave a behaviour on)."""
    if spec is None:
        spec = "all"
    if not isinstance(spec, str):
        spec = ",".join(spec)
    tokens = [t.strip() for t in spec.split(",") if t.strip()]
    if not tokens:
        return []
    enabled = set(names) if tokens[0] == "all" or tokens[0].startswith("-") else set()
    for token in tokens:
        if token in ("all", "none"):
            enabled = set(names) if token == "all" else set()
            continue
        sign, name = (token[0], token[1:]) if token[0] in "+-" else ("+", token)
        if name not in names:
            raise ValueError("%s: unknown strict behaviour %r; known: %s" % (ENV_SWITCHES, name, ", ".join(names)))
        (enabled.add if sign == "+" else enabled.discard)(name)
    return [n for n in names if n in enabled]


# -- the middleware --------------------------------------------------------------------------------------------
class StrictAws:
    """WSGI middleware: AWS's strictness in front of `app` (moto). See the module docstring."""

    def __init__(self, app, behaviours=None, speed=DEFAULT_SPEED, enabled="all"):
        self.app = app
        items = default_behaviours() if behaviours is None else list(behaviours)
        self.behaviours = [b() if isinstance(b, type) else b for b in items]
        self.by_name = {b.name: b for b in self.behaviours}
        if len(self.by_name) != len(self.behaviours):
            raise ValueError("two strict behaviours share a name: %s" % [b.name for b in self.behaviours])
        self.clock = StrictClock(speed)
        self.lock = threading.Lock()
        self.enabled = set(parse_switches(enabled, list(self.by_name)))
        self.key_account = {}
        self.refused = {}
        self.rewritten = {}

    # -- state ---------------------------------------------------------------------------------------------------
    def reset(self):
        for behaviour in self.behaviours:
            behaviour.reset()
        with self.lock:
            self.key_account.clear()
        self.reset_stats()

    def reset_stats(self):
        with self.lock:
            self.refused = {}
            self.rewritten = {}
        for behaviour in self.behaviours:
            if hasattr(behaviour, "reset_stats"):
                behaviour.reset_stats()

    def snapshot(self):
        with self.lock:
            enabled = [b.name for b in self.behaviours if b.name in self.enabled]
            stats = {"refused": {k: dict(v) for k, v in self.refused.items()},
                     "rewritten": {k: dict(v) for k, v in self.rewritten.items()}}
        return {"enabled": enabled, "available": [b.name for b in self.behaviours], "speed": self.clock.speed,
                "stats": stats,
                "behaviours": {b.name: {"enabled": b.name in enabled, "source": b.source, "params": b.params(),
                                        "state": b.state()} for b in self.behaviours}}

    def configure(self, settings):
        """Apply a POST /_keyless/strict body (validated first: nothing changes when a part is wrong)."""
        settings = dict(settings)
        names = list(self.by_name)

        def expand(items):
            if items in ("all", ["all"]):
                return names
            return [items] if isinstance(items, str) else list(items)

        disable, enable = expand(settings.pop("disable", [])), expand(settings.pop("enable", []))
        speed = settings.pop("speed", None)
        reset, reset_stats = settings.pop("reset", False), settings.pop("reset_stats", False)
        for name in disable + enable + list(settings):
            if name not in self.by_name:
                raise ValueError("unknown strict behaviour or setting %r; known: %s, and disable, enable, speed, reset, "
                                 "reset_stats" % (name, ", ".join(names)))
        if speed is not None and float(speed) <= 0:
            raise ValueError("speed must be > 0, not %r" % (speed,))
        for name, params in settings.items():
            if not isinstance(params, dict):
                raise ValueError("%s: parameters must be an object, not %r" % (name, params))
            self.by_name[name].configure(**params)
        with self.lock:
            self.enabled.difference_update(disable)
            self.enabled.update(enable)
        if speed is not None:
            self.clock.set_speed(speed)
        if reset:
            for behaviour in self.behaviours:
                behaviour.reset()
        if reset_stats:
            self.reset_stats()

    def _count(self, table, behaviour, call):
        with self.lock:
            per = table.setdefault(behaviour.name, {})
            key = "%s:%s" % (call.service, call.action)
            per[key] = per.get(key, 0) + 1

    def _learn(self, call, answer):
        if answer.status >= 300:
            return
        if call.service == "sts":
            key, account = assumed_key_account(answer.body)
            if not key:
                key, account = issued_key(answer.body), call.account
        elif call.service == "iam" and call.action == "CreateAccessKey":
            key, account = issued_key(answer.body), call.account
        else:
            return
        if key and account:
            with self.lock:
                self.key_account[key] = account

    # -- WSGI ----------------------------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.rstrip("/") == "/_keyless/strict":
            return self._control(environ, start_response)
        if path.startswith(("/_keyless/", "/moto-api")):
            if not path.startswith("/moto-api/reset"):
                return self.app(environ, start_response)
            out = list(self.app(environ, start_response))
            self.reset()
            return out
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        call = parse_call(environ, body)
        if call is None:
            return self.app(environ, start_response)
        with self.lock:
            call.account = self.key_account.get(call.access_key, call.access_key)
            enabled = [b for b in self.behaviours if b.name in self.enabled]
        current = None
        try:
            for current in enabled:
                answer = current.before(call, self.clock)
                if answer is not None:
                    self._count(self.refused, current, call)
                    return self._send(start_response, answer)
            current = None
            answer = self._forward(environ)
            self._learn(call, answer)
            for current in enabled:
                rewritten = current.after(call, answer, self.clock)
                if rewritten is not answer:
                    self._count(self.rewritten, current, call)
                    answer = rewritten
        except Exception:
            sys.stderr.write("strict layer (%s) on %s:%s:\n%s" % (
                current.name if current else "moto", call.service, call.action, traceback.format_exc()))
            raise
        return self._send(start_response, answer)

    def _forward(self, environ):
        captured = {}
        chunks = []

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return chunks.append

        result = self.app(environ, capture)
        try:
            for chunk in result:
                chunks.append(chunk)
        finally:
            if hasattr(result, "close"):
                result.close()
        return Answer(int(captured["status"].split(" ", 1)[0]), list(captured["headers"]), b"".join(chunks))

    @staticmethod
    def _send(start_response, answer):
        headers = [(k, v) for k, v in answer.headers if k.lower() not in ("content-length", "transfer-encoding")]
        headers.append(("Content-Length", str(len(answer.body))))
        start_response("%d %s" % (answer.status, http.client.responses.get(answer.status, "Unknown")), headers)
        return [answer.body]

    def _control(self, environ, start_response):
        status = "200 OK"
        if environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            try:
                settings = json.loads(raw or b"{}")
                if not isinstance(settings, dict):
                    raise ValueError("a JSON object, not %r" % (settings,))
                self.configure(settings)
                payload = self.snapshot()
            except (ValueError, TypeError, KeyError) as exc:
                status, payload = "400 Bad Request", {"error": str(exc)}
        else:
            payload = self.snapshot()
        data = json.dumps(payload, sort_keys=True, default=list).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]


def settings_from_env(environ=None):
    """(switch spec, speed) from KEYLESS_STRICT / KEYLESS_STRICT_SPEED."""
    environ = os.environ if environ is None else environ
    return environ.get(ENV_SWITCHES) or "all", float(environ.get(ENV_SPEED) or DEFAULT_SPEED)


# -- clients of a running layer (tests, bench) ---------------------------------------------------------------
def strict_config(url, **settings):
    """POST /_keyless/strict: e.g. strict_config(url, disable=["html_5xx"], speed=1,
    rate_limit={"limits": {"DescribeInstances": [100, 20]}}). Returns the layer's state (as strict_stats)."""
    req = urllib.request.Request(url.rstrip("/") + "/_keyless/strict", data=json.dumps(settings).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        raise ValueError("strict layer refused %s: %s" % (settings, detail)) from exc


def strict_stats(url):
    """GET /_keyless/strict: enabled behaviours, speed, refusals per behaviour and action, each one's state."""
    with urllib.request.urlopen(url.rstrip("/") + "/_keyless/strict", timeout=60) as resp:
        return json.loads(resp.read())


def strict_restore(url, snapshot):
    """Put a layer back as `snapshot` (an earlier strict_stats() answer) had it: switches, speed, every parameter."""
    params = {name: b["params"] for name, b in snapshot["behaviours"].items()}
    return strict_config(url, disable="all", enable=snapshot["enabled"], speed=snapshot["speed"], **params)


@contextlib.contextmanager
def strict_off(url, names=None):
    """Switch behaviours off (default: every one) for the block, then back on (only those that were on): for
    setup that is not the subject of a test (seeding a fleet). A server without the layer is left alone."""
    try:
        before = strict_stats(url)["enabled"]
    except (urllib.error.URLError, OSError, ValueError):
        yield []
        return
    off = [n for n in before if names is None or n in names]
    if off:
        strict_config(url, disable=off)
    try:
        yield off
    finally:
        if off:
            strict_config(url, enable=off)


def _blank_html_5xx(response_dict=None, **_kwargs):
    """botocore before-parse: a 5xx whose body is not AWS's (an HTML page) gets an empty body, which botocore
    parses as a generic error of that status and retries like any 5xx."""
    if not response_dict or (response_dict.get("status_code") or 0) < 500:
        return
    body = response_dict.get("body") or b""
    head = body.lstrip()[:300].lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        response_dict["body"] = b""


def retry_html_5xx(client):
    """Make one botocore client (of the test harness) retry html_5xx's pages as the 5xx they are."""
    client.meta.events.register("before-parse", _blank_html_5xx, unique_id="keyless-strict-html-5xx")
    return client


def harness_retries_html_5xx():
    """Every botocore session created from now on in this process retries HTML 5xx pages (for test processes
    whose product code runs elsewhere, e.g. in ansible-playbook subprocesses). Idempotent."""
    from botocore import handlers
    entry = ("before-parse", _blank_html_5xx)
    if entry not in handlers.BUILTIN_HANDLERS:
        handlers.BUILTIN_HANDLERS.append(entry)
