"""Selector validation, filters and the association index (pure parts of module_utils/fleet/selection.py)."""

from __future__ import annotations

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.fleet import selection as fleet


def errors(**params):
    params.setdefault("states", ["running", "stopped"])
    return fleet.validate_selector(params)


def test_empty_selector_refused():
    errs = errors()
    assert len(errs) == 1 and "selector is empty" in errs[0] and "all_instances" in errs[0]
    assert "selector is empty" in errors(instance_ids=[], filters={}, tags={})[0]


def test_all_instances_allows_empty_selector():
    assert errors(all_instances=True) == []


def test_all_instances_with_other_selectors_refused():
    errs = errors(all_instances=True, tags={"Team": "a"})
    assert len(errs) == 1 and "do not combine" in errs[0]


@pytest.mark.parametrize("good", ["i-0123abcd", "i-0123456789abcdef0", "i-0123456789abcdef0"[:19]])
def test_instance_id_ok(good):
    assert errors(instance_ids=[good]) == []


@pytest.mark.parametrize("bad", ["i-123", "0123456789abcdef0", "i-0123456789ABCDEF0", "i-0123456789abcdef01",
                                 "i-zzzzzzzz", " i-0123abcd"])
def test_instance_id_bad(bad):
    errs = errors(instance_ids=["i-0123abcd", bad])
    assert len(errs) == 1 and repr(bad) in errs[0] and "instance_ids" in errs[0] and "hex" in errs[0]


def test_filter_shapes():
    assert errors(filters={"instance-type": "t3.micro", "tag:Team": ["a", "b"]}) == []
    errs = errors(filters={"bad name": "x", "subnet-id": {"a": 1}, "vpc-id": []})
    assert len(errs) == 3
    assert any("'bad name'" in e for e in errs)
    assert any("subnet-id" in e and "string" in e for e in errs)
    assert any("vpc-id" in e and "empty list" in e for e in errs)
    assert "must be a dict" in errors(filters=["instance-type"])[0]


def test_tag_shapes():
    assert errors(tags={"Team": ["a", "b"], "Env": "prod"}) == []
    errs = errors(tags={"": "x", "Team": None})
    assert len(errs) == 2


def test_states_checked():
    errs = fleet.validate_selector({"tags": {"a": "b"}, "states": ["running", "sleeping"]})
    assert len(errs) == 1 and "'sleeping'" in errs[0] and "shutting-down" in errs[0]
    assert "selects nothing" in fleet.validate_selector({"tags": {"a": "b"}, "states": []})[0]


def test_build_filters():
    assert fleet.build_filters({"filters": {"instance-type": ["t3.micro", "t3.small"], "x": 2},
                                "tags": {"Fleet": "app", "On": True}}) == [
        {"Name": "instance-type", "Values": ["t3.micro", "t3.small"]},
        {"Name": "x", "Values": ["2"]},
        {"Name": "tag:Fleet", "Values": ["app"]},
        {"Name": "tag:On", "Values": ["true"]},
    ]
    assert fleet.build_filters({"all_instances": True}) == []


def test_selector_spec_matches_contract():
    spec = fleet.selector_argument_spec()
    assert set(spec) == {"instance_ids", "filters", "tags", "states", "all_instances"}
    assert spec["states"]["default"] == ["running", "stopped"]
    assert spec["all_instances"]["default"] is False


def test_instance_record():
    raw = {"InstanceId": "i-0123abcd", "State": {"Name": "running"},
           "Tags": [{"Key": "Name", "Value": "web"}, {"Key": "aws:ec2launchtemplate:id", "Value": "lt-1"},
                    {"Key": "aws:ec2launchtemplate:version", "Value": "3"}],
           "IamInstanceProfile": {"Arn": "arn:aws:iam::1:instance-profile/P", "Id": "AIPA"},
           "MetadataOptions": {"HttpTokens": "optional", "HttpPutResponseHopLimit": 2}}
    rec = fleet.instance_record(raw)
    assert rec == {"instance_id": "i-0123abcd", "state": "running", "name": "web",
                   "profile_arn": "arn:aws:iam::1:instance-profile/P", "profile_id": "AIPA",
                   "metadata": {"HttpTokens": "optional", "HttpPutResponseHopLimit": 2},
                   "launch_template": {"id": "lt-1", "name": None, "version": "3"}, "owner": None}
    assert fleet.instance_record({"InstanceId": "i-0123abcd"})["launch_template"] is None
    raw["Tags"] += [{"Key": "eks:cluster-name", "Value": "prod"}, {"Key": "eks:nodegroup-name", "Value": "ng1"},
                    {"Key": "aws:autoscaling:groupName", "Value": "eks-ng1-abcd"}]
    owner = fleet.instance_record(raw)["owner"]
    assert (owner["kind"], owner["name"], owner["protected"], owner["containers"]) == ("eks", "prod/ng1", True, True)


def test_index_associations_picks_active():
    arn = "arn:aws:iam::1:instance-profile/%s"
    raw = [
        {"InstanceId": "i-1", "AssociationId": "a-old", "State": "disassociated", "IamInstanceProfile": {"Arn": arn % "Old"}},
        {"InstanceId": "i-1", "AssociationId": "a-cur", "State": "associated", "IamInstanceProfile": {"Arn": arn % "Cur"}},
        {"InstanceId": "i-2", "AssociationId": "a-2o", "State": "disassociating", "IamInstanceProfile": {"Arn": arn % "Old"}},
        {"InstanceId": "i-2", "AssociationId": "a-2n", "State": "associating", "IamInstanceProfile": {"Arn": arn % "New"}},
        {"InstanceId": "i-3", "AssociationId": "a-3", "State": "disassociated", "IamInstanceProfile": {"Arn": arn % "Gone"}},
        {"InstanceId": "i-4", "AssociationId": "a-4", "State": "associated", "IamInstanceProfile": {"Arn": arn % "X"}},
    ]
    index = fleet.index_associations(raw, wanted={"i-1", "i-2", "i-3"})
    assert index == {"i-1": {"association_id": "a-cur", "state": "associated", "profile_arn": arn % "Cur"},
                     "i-2": {"association_id": "a-2n", "state": "associating", "profile_arn": arn % "New"}}
    assert set(fleet.index_associations(raw)) == {"i-1", "i-2", "i-4"}


def _page(reservations, per, token=None, start=0):
    page = {"Reservations": [{"ReservationId": "r-%d" % r, "Instances": [
        {"InstanceId": "i-%08x" % (start + r * per + k), "State": {"Name": "running"}} for k in range(per)]}
        for r in range(reservations)]}
    if token:
        page["NextToken"] = token
    return page


def test_describe_pages_follow_tokens_with_filters_1000_a_page_on_any_endpoint():
    """Every page asks for 1,000 instances with the same filters, local endpoint or AWS; each page is a
    call, and reservations split across pages are joined by instance id."""
    import boto3
    from botocore.stub import Stubber
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url="http://127.0.0.1:5000",
                       aws_access_key_id="a", aws_secret_access_key="b")
    filters = [{"Name": "tag:Fleet", "Values": ["app"]}]
    with Stubber(ec2) as stub:
        stub.add_response("describe_instances", _page(10, 100, "t1"), {"MaxResults": 1000, "Filters": filters})
        stub.add_response("describe_instances", _page(4, 250, "t2", 1000),
                          {"MaxResults": 1000, "Filters": filters, "NextToken": "t1"})
        stub.add_response("describe_instances", _page(1, 7, None, 2000),
                          {"MaxResults": 1000, "Filters": filters, "NextToken": "t2"})
        records, calls = fleet.describe_instances(ec2, filters)
        stub.assert_no_pending_responses()
    assert len(records) == 2007 and calls == 3


def test_describe_pages_on_aws_ask_for_1000():
    import boto3
    from botocore.stub import Stubber
    ec2 = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    with Stubber(ec2) as stub:
        stub.add_response("describe_instances", _page(1, 3, "t"), {"MaxResults": 1000})
        stub.add_response("describe_instances", _page(1, 2, None, 3), {"MaxResults": 1000, "NextToken": "t"})
        records, calls = fleet.describe_instances(ec2, [])
    assert len(records) == 5 and calls == 2


def test_observe_splits_states_and_missing_ids():
    import boto3
    from botocore.stub import ANY, Stubber
    ec2 = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    ids = ["i-%08x" % n for n in range(250)]
    found = {"Reservations": [{"Instances": [
        {"InstanceId": ids[0], "State": {"Name": "running"}},
        {"InstanceId": ids[1], "State": {"Name": "terminated"}},
        {"InstanceId": ids[210], "State": {"Name": "stopped"}}]}]}
    with Stubber(ec2) as stub:
        # 250 ids: two instance-id filters of at most 200 values
        stub.add_response("describe_instances", found, {"MaxResults": 1000, "Filters": [
            {"Name": "instance-id", "Values": ids[:200]}]})
        stub.add_response("describe_instances", {"Reservations": []}, {"MaxResults": 1000, "Filters": ANY})
        sel = fleet.observe_instances(ec2, {"instance_ids": ids, "states": ["running", "stopped"]})
        stub.assert_no_pending_responses()
    assert sorted(sel.instances) == [ids[0], ids[210]]
    assert [r["instance_id"] for r in sel.skipped] == [ids[1]] and "terminated" in sel.skipped[0]["skip_reason"]
    assert len(sel.missing) == 247 and sel.calls == 2


# ---- at most 200 filter values a call, over every filter (FilterLimitExceeded) ------------------------------

class _Pages:
    def __init__(self, sent):
        self.sent = sent

    def paginate(self, **kwargs):
        self.sent.append(kwargs.get("Filters") or [])
        return iter([{"Reservations": []}])


class _Ec2:
    def __init__(self):
        self.sent = []

    def get_paginator(self, name):
        return _Pages(self.sent)


def test_instance_ids_share_the_200_values_with_the_selectors_own():
    """250 ids plus a tag of 3 values: every call carries at most 200 values in all (AWS answers
    FilterLimitExceeded past that), and every id is asked for once."""
    ec2 = _Ec2()
    ids = ["i-%017x" % n for n in range(250)]
    params = {"instance_ids": ids, "tags": {"Team": ["a", "b", "c"]}, "states": ["running"]}
    fleet.observe_instances(ec2, params)
    assert len(ec2.sent) == 2
    assert all(sum(len(f["Values"]) for f in call) <= fleet.FILTER_VALUES_MAX for call in ec2.sent)
    asked = [v for call in ec2.sent for f in call if f["Name"] == "instance-id" for v in f["Values"]]
    assert sorted(asked) == sorted(ids)
    assert all({"Name": "tag:Team", "Values": ["a", "b", "c"]} in call for call in ec2.sent)


def test_a_selector_with_more_than_200_values_is_refused_before_any_call():
    values = ["v%d" % n for n in range(150)]
    errs = errors(filters={"instance-type": values}, tags={"Team": values[:51]})
    assert len(errs) == 1 and "201 values" in errs[0] and "200" in errs[0]
    assert errors(filters={"instance-type": values}, tags={"Team": values[:50]}) == []
    errs = errors(instance_ids=["i-0123abcd"], filters={"instance-type": values}, tags={"Team": values[:50]})
    assert len(errs) == 1 and "instance_ids need at least one" in errs[0]
