"""usage.py and keys.py: the pure parts (addresses, attribution, masking), no AWS."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.accesskeys import keys, usage
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import PlanError

UTC = datetime.timezone.utc
KEY = "AKIAIOSFODNN7EXAMPLE"
OTHER = "AKIAI44QH8DHBEXAMPLF"


def raw(iid, private, public=None, vpc="vpc-1", secondary=(), eip=None, ipv6=None):
    eni = {"PrivateIpAddress": private, "PrivateIpAddresses": [{"PrivateIpAddress": private}] + [
        {"PrivateIpAddress": a} for a in secondary], "Ipv6Addresses": [{"Ipv6Address": ipv6}] if ipv6 else []}
    if eip:
        eni["PrivateIpAddresses"][0]["Association"] = {"PublicIp": eip}
    out = {"InstanceId": iid, "State": {"Name": "running"}, "VpcId": vpc, "PrivateIpAddress": private,
           "NetworkInterfaces": [eni]}
    if public:
        out["PublicIpAddress"] = public
    return out


FLEET = {r["instance_id"]: r for r in (
    usage.instance_addresses(raw("i-a", "10.0.0.1", "54.0.0.1", secondary=["10.0.0.11"])),
    usage.instance_addresses(raw("i-b", "10.0.0.2", eip="52.0.0.2", ipv6="2600:1F18::2")),
    usage.instance_addresses(raw("i-c", "10.0.0.1", vpc="vpc-2")),   # the same private address, another VPC
    usage.instance_addresses(raw("i-d", "10.9.0.4", vpc="vpc-3")),
)}


def event(address, key=KEY, endpoint=None, when="2026-12-01T10:00:00Z", source="s3.amazonaws.com", name="GetObject",
          kind="IAMUser"):
    out = {"userIdentity": {"type": kind, "accessKeyId": key}, "sourceIPAddress": address, "eventTime": when,
           "eventSource": source, "eventName": name}
    if endpoint:
        out["vpcEndpointId"] = endpoint
    return out


def test_instance_addresses_reads_every_interface_address():
    a = FLEET["i-a"]
    assert a["private"] == ["10.0.0.1", "10.0.0.11"] and a["public"] == ["54.0.0.1"] and a["vpc_id"] == "vpc-1"
    assert FLEET["i-b"]["public"] == ["52.0.0.2"] and FLEET["i-b"]["ipv6"] == ["2600:1f18::2"]


@pytest.mark.parametrize("case, ev, vpcs, want", [
    ("public address", event("54.0.0.1"), {}, ("i-a", "54.0.0.1", "public")),
    ("elastic IP of an interface", event("52.0.0.2"), {}, ("i-b", "52.0.0.2", "public")),
    ("IPv6", event("2600:1f18::2"), {}, ("i-b", "2600:1f18::2", "public")),
    ("secondary private address, unique", event("10.0.0.11"), {}, ("i-a", "10.0.0.11", "private")),
    ("endpoint in vpc-2 picks i-c", event("10.0.0.1", endpoint="vpce-2"), {"vpce-2": "vpc-2"},
     ("i-c", "10.0.0.1", "vpc_endpoint")),
    ("endpoint in vpc-1 picks i-a", event("10.0.0.1", endpoint="vpce-1"), {"vpce-1": "vpc-1"},
     ("i-a", "10.0.0.1", "vpc_endpoint")),
    ("unique private address, endpoint's VPC unknown", event("10.9.0.4", endpoint="vpce-9"), {},
     ("i-d", "10.9.0.4", "vpc_endpoint")),
])
def test_locate(case, ev, vpcs, want):
    assert usage.AddressIndex(FLEET).locate(ev, vpcs) == want, case


@pytest.mark.parametrize("case, ev, vpcs, why", [
    ("a private address in two VPCs, no endpoint", event("10.0.0.1"), {}, "different VPCs"),
    ("ambiguous, endpoint unknown", event("10.0.0.1", endpoint="vpce-x"), {}, "endpoint's VPC is unknown"),
    ("endpoint in a VPC without the address", event("10.0.0.2", endpoint="vpce-3"), {"vpce-3": "vpc-3"},
     "in the endpoint's VPC"),
    ("a NAT gateway or another network", event("198.51.100.7"), {}, "no instance of the fleet"),
    ("no address", event(""), {}, "no sourceIPAddress"),
])
def test_locate_nothing(case, ev, vpcs, why):
    instance, _address, reason = usage.AddressIndex(FLEET).locate(ev, vpcs)
    assert instance is None and why in reason, (case, reason)


@pytest.mark.parametrize("ev, want", [
    (event("1.2.3.4"), KEY),
    (event("1.2.3.4", key="ASIAIOSFODNN7EXAMPLE"), None),                     # a session, not the key
    (event("1.2.3.4", kind="AssumedRole"), None),
    ({"userIdentity": "x"}, None),
    ({}, None),
])
def test_key_event(ev, want):
    assert usage.key_event(ev) == want


def test_attribute_groups_per_key_and_instance():
    events = [event("54.0.0.1", when="2026-12-01T10:00:00Z"),
              event("54.0.0.1", when="2026-12-03T10:00:00Z", source="sqs.amazonaws.com", name="ReceiveMessage"),
              event("10.0.0.11", when="2026-12-02T10:00:00Z"),
              event("10.0.0.1", endpoint="vpce-2", key=OTHER),
              event("198.51.100.7", when="2026-12-04T10:00:00Z", name="PutObject"),
              event("54.0.0.1", kind="AssumedRole")]
    got = usage.attribute(events, usage.AddressIndex(FLEET), {"vpce-2": "vpc-2"})
    assert sorted(got) == sorted([KEY, OTHER])
    mine = got[KEY].used_from()
    assert mine == [{"instance_id": "i-a", "address": "54.0.0.1", "addresses": ["10.0.0.11", "54.0.0.1"],
                     "via": ["private", "public"], "calls": 3, "actions": ["s3:GetObject", "sqs:ReceiveMessage"],
                     "first_seen": "2026-12-01T10:00:00Z", "last_seen": "2026-12-03T10:00:00Z"}]
    assert got[KEY].outside_summary() == {"calls": 1, "addresses": [{"address": "198.51.100.7", "calls": 1}]}
    assert got[KEY].last_event["event_name"] == "PutObject" and got[KEY].last_event["instance_id"] is None
    assert [u["instance_id"] for u in got[OTHER].used_from()] == ["i-c"]
    assert usage.attribute(events, usage.AddressIndex(FLEET), wanted={OTHER}).keys() == {OTHER}


def test_endpoint_ids():
    assert usage.endpoint_ids([event("1", endpoint="vpce-2"), event("1", endpoint="vpce-1"), event("1")]) == ["vpce-1", "vpce-2"]


@pytest.mark.parametrize("value, want", [(KEY, "AKIA...MPLE"), ("short", "****"), (None, "****")])
def test_mask(value, want):
    assert keys.mask(value) == want


def test_key_record_never_used_and_public_form():
    now = datetime.datetime(2026, 12, 7, tzinfo=UTC)
    rec = keys.key_record({"UserName": "u", "AccessKeyId": KEY, "Status": "Active",
                           "CreateDate": datetime.datetime(2026, 11, 7, 8, 0, tzinfo=UTC)},
                          {"AccessKeyLastUsed": {"ServiceName": "N/A", "Region": "N/A"}}, now)
    assert rec["last_used"] == {"date": None, "service": None, "region": None, "days_ago": None}
    assert rec["age_days"] == 29 and rec["created"] == "2026-11-07T08:00:00Z" and rec["long_term"]
    public = keys.public_key(rec)
    assert public["access_key_id"] == "AKIA...MPLE" and KEY not in str(public)


def test_resolve_key():
    now = datetime.datetime(2026, 12, 7, tzinfo=UTC)
    recs = [keys.key_record({"UserName": "u", "AccessKeyId": k, "Status": s}, None, now)
            for k, s in ((KEY, "Active"), (OTHER, "Inactive"))]
    assert keys.resolve_key(KEY, recs, "u")["access_key_id"] == KEY
    assert keys.resolve_key("AKIA...MPLF", recs, "u")["access_key_id"] == OTHER
    assert keys.resolve_key("AKIA...ZZZZ", recs, "u") is None
    assert keys.resolve_key("AKIAZZZZZZZZZZZZZZZZ", recs, "u") is None
    twin = keys.key_record({"UserName": "u", "AccessKeyId": "AKIAJJJJJJJJJJJJMPLE", "Status": "Active"}, None, now)
    with pytest.raises(PlanError, match="matches 2 keys"):
        keys.resolve_key("AKIA...MPLE", recs + [twin], "u")
