"""rate_limit: EC2's per-API token buckets (EC2_RATE_LIMITS, as AWS's throttling page gives them), the bucket
model (TokenBucket) and the bound a run is measured against (rate_limit_of, bound_seconds)."""

from __future__ import annotations

import threading
import time

from tests.support.strict.core import Behaviour, error_answer


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
