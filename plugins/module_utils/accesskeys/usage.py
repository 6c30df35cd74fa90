# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which access key made which call from which instance of the fleet. Private to the collection.

    instance_addresses(raw) -> {instance_id, vpc_id, private, public, ipv6}     pure, one DescribeInstances instance
    observe_fleet(ec2, params) -> (instances, calls)    the selector's instances with their addresses (DescribeInstances
                                                        through fleet/selection.py's filters and pages)
    AddressIndex(instances)                             pure: address -> instance, per kind of address
        .locate(event, endpoint_vpcs) -> (instance_id, address, via) or (None, address, reason)
    endpoint_ids(events) -> {vpce-...}                  pure
    endpoint_vpcs(ec2, ids) -> {vpce-...: vpc-...}      DescribeVpcEndpoints (only for the endpoints the events name)
    key_event(event) -> access key id or None           pure: a call made with a user's long-term key
    attribute(events, index, vpcs=None, wanted=None) -> {access_key_id: Usage}     pure (wanted: only these key ids)

AWS facts relied on:
- CloudTrail userIdentity: "type": "IAMUser" with "accessKeyId" for a call signed with an IAM user's access key
  (AKIA... for a long-term key; ASIA... would be a session the user got from STS: not the key itself) (CloudTrail
  userIdentity element reference).
- sourceIPAddress is "the IP address that the request was made from" (CloudTrail record contents): a public address
  for a call over the internet (an instance's public IPv4, or its NAT gateway's address: a NAT address names no
  single instance and is reported as outside the fleet); for a call through an interface or gateway VPC endpoint the
  record carries "vpcEndpointId" and sourceIPAddress is the caller's private IP in the VPC (AWS KMS developer guide,
  "Logging AWS KMS requests that use a VPC endpoint": an IAMUser call with vpcEndpointId and sourceIPAddress
  172.x; IAM's aws:VpcSourceIp condition key is the same address). Private addresses repeat across VPCs, so a
  private address is attributed through the endpoint's VPC (DescribeVpcEndpoints VpcId), or, without an endpoint,
  only when one instance of the fleet has it.
- DescribeInstances: PrivateIpAddress, PublicIpAddress, VpcId, and per network interface PrivateIpAddresses[]
  (PrivateIpAddress, Association.PublicIp) and Ipv6Addresses[] (an instance may have several interfaces and
  secondary addresses). An Elastic IP shows as the interface's Association.PublicIp.
"""

from __future__ import annotations

from ansible_collections.keyless.aws.plugins.module_utils.activity.action_map import map_event
from ansible_collections.keyless.aws.plugins.module_utils.activity.cloudtrail import event_time
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import paginate
from ansible_collections.keyless.aws.plugins.module_utils.fleet.selection import (
    DEFAULT_STATES,
    FILTER_VALUES_MAX,
    build_filters,
    chunks,
    describe_pages,
)

USER_IDENTITY = "IAMUser"
LONG_TERM_PREFIX = "AKIA"
OUTSIDE_ADDRESSES_SHOWN = 10


# ---- the fleet's addresses ------------------------------------------------------------------------

def instance_addresses(raw):
    """Pure: the addresses of one DescribeInstances instance."""
    private, public, ipv6 = set(), set(), set()
    if raw.get("PrivateIpAddress"):
        private.add(raw["PrivateIpAddress"])
    if raw.get("PublicIpAddress"):
        public.add(raw["PublicIpAddress"])
    for eni in raw.get("NetworkInterfaces") or ():
        if eni.get("PrivateIpAddress"):
            private.add(eni["PrivateIpAddress"])
        for item in eni.get("PrivateIpAddresses") or ():
            if item.get("PrivateIpAddress"):
                private.add(item["PrivateIpAddress"])
            public_ip = (item.get("Association") or {}).get("PublicIp")
            if public_ip:
                public.add(public_ip)
        public_ip = (eni.get("Association") or {}).get("PublicIp")
        if public_ip:
            public.add(public_ip)
        for item in eni.get("Ipv6Addresses") or ():
            if item.get("Ipv6Address"):
                ipv6.add(item["Ipv6Address"].lower())
    return {"instance_id": raw["InstanceId"], "state": (raw.get("State") or {}).get("Name"), "vpc_id": raw.get("VpcId"),
            "private": sorted(private), "public": sorted(public), "ipv6": sorted(ipv6)}


def observe_fleet(ec2, params):
    """(instances {id: addresses}, calls): the selector's instances in its states, with their addresses."""
    filters = build_filters(params)
    ids = sorted(set(params.get("instance_ids") or ()))
    if ids:
        room = FILTER_VALUES_MAX - sum(len(f["Values"]) for f in filters)
        batches = [filters + [{"Name": "instance-id", "Values": chunk}] for chunk in chunks(ids, max(room, 1))]
    else:
        batches = [filters]
    states = set(params.get("states") or DEFAULT_STATES)
    instances, calls = {}, 0
    for batch in batches:
        for raw in describe_pages(ec2, batch):
            if raw is None:
                calls += 1
                continue
            record = instance_addresses(raw)
            if record["state"] in states:
                instances[record["instance_id"]] = record
    return instances, calls


class AddressIndex:
    """Pure: which instance of the fleet has an address (public and IPv6 addresses are unique; private ones are
    unique within a VPC)."""

    def __init__(self, instances):
        self.public = {}
        self.private = {}
        for iid in sorted(instances):
            rec = instances[iid]
            for address in rec["public"]:
                self.public[address] = iid
            for address in rec["ipv6"]:
                self.public[address] = iid
            for address in rec["private"]:
                self.private.setdefault(address, []).append((rec.get("vpc_id"), iid))

    def locate(self, event, endpoint_vpcs=None):
        """(instance_id, address, via) of the caller of `event`: via is public, vpc_endpoint or private; or
        (None, address, why) when no instance of the fleet (or more than one) has the address."""
        address = str(event.get("sourceIPAddress") or "").lower()
        endpoint = event.get("vpcEndpointId")
        if not address:
            return None, None, "the event has no sourceIPAddress"
        if address in self.public and not endpoint:
            return self.public[address], address, "public"
        candidates = self.private.get(address) or []
        if endpoint:
            vpc = (endpoint_vpcs or {}).get(endpoint)
            if vpc is not None:
                candidates = [c for c in candidates if c[0] == vpc]
            if len(candidates) == 1:
                return candidates[0][1], address, "vpc_endpoint"
            if not candidates:
                return None, address, "no instance of the fleet has this private address in the endpoint's VPC"
            return None, address, "several instances of the fleet have this private address: the endpoint's VPC is unknown"
        if len(candidates) == 1:
            return candidates[0][1], address, "private"
        if candidates:
            return None, address, "several instances of the fleet (in different VPCs) have this private address"
        return None, address, "no instance of the fleet has this address"


def endpoint_ids(events):
    return sorted({e["vpcEndpointId"] for e in events if isinstance(e.get("vpcEndpointId"), str) and e["vpcEndpointId"]})


def endpoint_vpcs(ec2, ids):
    """{endpoint id: VPC id} of the VPC endpoints the events name (DescribeVpcEndpoints, paginated, 200 ids a call).
    An endpoint deleted since is simply absent (its events then match on a private address alone)."""
    found = {}
    for chunk in chunks(sorted(set(ids)), FILTER_VALUES_MAX):
        for item in paginate(ec2, "DescribeVpcEndpoints", "VpcEndpoints",
                             {"Filters": [{"Name": "vpc-endpoint-id", "Values": chunk}]}):
            found[item["VpcEndpointId"]] = item.get("VpcId")
    return found


# ---- events -> usage ------------------------------------------------------------------------------

def key_event(event):
    """The access key id of a call made with an IAM user's long-term key (userIdentity IAMUser, AKIA...), else None."""
    identity = event.get("userIdentity") if isinstance(event, dict) else None
    if not isinstance(identity, dict) or identity.get("type") != USER_IDENTITY:
        return None
    key = identity.get("accessKeyId")
    return key if isinstance(key, str) and key.startswith(LONG_TERM_PREFIX) else None


def event_actions(event):
    """The IAM actions the call needed (action_map.py), or [] when it needs none or is not known."""
    mapped = map_event(event)
    return sorted({n.action for n in mapped["actions"]}) if mapped["kind"] == "mapped" else []


class Usage:
    """One key's calls: per instance of the fleet, and the calls from elsewhere."""

    def __init__(self):
        self.by_instance = {}
        self.outside = {}
        self.outside_calls = 0
        self.last_event = None

    def add(self, event, located):
        instance_id, address, via = located
        when = event_time(event)
        if when is not None and (self.last_event is None or when > self.last_event["when"]):
            self.last_event = {"when": when, "event_source": event.get("eventSource"), "event_name": event.get("eventName"),
                               "source_ip": address, "instance_id": instance_id}
        if instance_id is None:
            self.outside_calls += 1
            if address:
                self.outside[address] = self.outside.get(address, 0) + 1
            return
        entry = self.by_instance.setdefault(instance_id, {"calls": 0, "addresses": {}, "via": set(), "actions": set(),
                                                          "first": None, "last": None})
        entry["calls"] += 1
        entry["addresses"][address] = entry["addresses"].get(address, 0) + 1
        entry["via"].add(via)
        entry["actions"].update(event_actions(event))
        if when is not None:
            entry["first"] = when if entry["first"] is None else min(entry["first"], when)
            entry["last"] = when if entry["last"] is None else max(entry["last"], when)

    def used_from(self):
        """[{instance_id, address, addresses, via, calls, actions, first_seen, last_seen}] sorted by instance id."""
        out = []
        for iid in sorted(self.by_instance):
            entry = self.by_instance[iid]
            addresses = sorted(entry["addresses"], key=lambda a: (-entry["addresses"][a], a))
            out.append({"instance_id": iid, "address": addresses[0], "addresses": sorted(addresses),
                        "via": sorted(entry["via"]), "calls": entry["calls"], "actions": sorted(entry["actions"]),
                        "first_seen": _iso(entry["first"]), "last_seen": _iso(entry["last"])})
        return out

    def outside_summary(self):
        top = sorted(self.outside, key=lambda a: (-self.outside[a], a))[:OUTSIDE_ADDRESSES_SHOWN]
        return {"calls": self.outside_calls, "addresses": [{"address": a, "calls": self.outside[a]} for a in top]}


def _iso(when):
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when is not None else None


def attribute(events, index, vpcs=None, wanted=None):
    """Pure: {access key id: Usage} over the events made with long-term keys (of `wanted` ids when given)."""
    usage = {}
    for event in events:
        key = key_event(event)
        if key is None or (wanted is not None and key not in wanted):
            continue
        usage.setdefault(key, Usage()).add(event, index.locate(event, vpcs))
    return usage
