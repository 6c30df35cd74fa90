"""The test moto server behaves like AWS where the fleet engine's call counts depend on it."""

from __future__ import annotations

import boto3
import pytest

from tests.support.moto_server import CallCounter, MotoServer, calls, reset_moto
from tests.support.strict import retry_html_5xx


@pytest.fixture(scope="module")
def ec2():
    with MotoServer() as server:
        # moto's backends are global to the process: another test file in this worker may have left
        # instances behind, so start from an empty account.
        reset_moto(server.url)
        # the strict layer is on (its HTML 5xx pages retried, as any 5xx should be): moto's fixes must hold there
        client = retry_html_5xx(boto3.client("ec2", region_name="us-east-1", endpoint_url=server.url,
                                             aws_access_key_id="testing", aws_secret_access_key="testing"))
        image = client.describe_images()["Images"][0]["ImageId"]
        for name, count in (("a", 7), ("b", 7), ("c", 1)):
            client.run_instances(ImageId=image, MinCount=count, MaxCount=count, TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": "group", "Value": name}]}])
        client.server_url = server.url
        yield client


def _pages(ec2, **kwargs):
    return list(ec2.get_paginator("describe_instances").paginate(**kwargs))


def _ids(page):
    return [i["InstanceId"] for r in page["Reservations"] for i in r["Instances"]]


def test_max_results_counts_instances_and_splits_reservations(ec2):
    pages = _pages(ec2, PaginationConfig={"PageSize": 5})
    assert [len(_ids(p)) for p in pages] == [5, 5, 5]
    everything = [i for p in pages for i in _ids(p)]
    assert len(set(everything)) == 15
    # the first reservation (7 instances) is split: its last 2 instances open page 2 in the same reservation
    assert pages[1]["Reservations"][0]["ReservationId"] == pages[0]["Reservations"][0]["ReservationId"]
    assert len(pages[1]["Reservations"]) == 2


def test_without_max_results_everything_in_one_answer(ec2):
    answer = ec2.describe_instances()
    assert len(_ids(answer)) == 15 and "NextToken" not in answer


def test_filters_and_ids_still_apply(ec2):
    pages = _pages(ec2, Filters=[{"Name": "tag:group", "Values": ["b", "c"]}], PaginationConfig={"PageSize": 5})
    assert [len(_ids(p)) for p in pages] == [5, 3]
    some = [i for p in pages for i in _ids(p)][:3]
    assert sorted(_ids(ec2.describe_instances(InstanceIds=some))) == sorted(some)


def test_tags_are_each_instances_own(ec2):
    groups = {}
    for page in _pages(ec2):
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                tags = instance["Tags"]
                assert len(tags) == 1 and tags[0]["Key"] == "group"
                groups[tags[0]["Value"]] = groups.get(tags[0]["Value"], 0) + 1
    assert groups == {"a": 7, "b": 7, "c": 1}
    assert calls(ec2.server_url)["counts"]["ec2:DescribeInstances"] >= 1


def test_unknown_instance_is_still_an_error(ec2):
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError) as err:
        ec2.modify_instance_metadata_options(InstanceId="i-0123456789abcdef0", HttpTokens="required")
    assert err.value.response["Error"]["Code"] == "InvalidInstanceID.NotFound"
    some = _ids(ec2.describe_instances())[0]
    answer = ec2.modify_instance_metadata_options(InstanceId=some, HttpTokens="required")
    assert answer["InstanceMetadataOptions"]["HttpTokens"] == "required"


def test_account_metadata_defaults_per_region_only_fields_sent(ec2):
    """Get/ModifyInstanceMetadataDefaults, which moto lacks: per region, no preference = field absent."""
    other = retry_html_5xx(boto3.client("ec2", region_name="eu-west-1", endpoint_url=ec2.server_url,
                                        aws_access_key_id="testing", aws_secret_access_key="testing"))
    assert ec2.get_instance_metadata_defaults()["AccountLevel"] == {"ManagedBy": "account"}
    assert ec2.modify_instance_metadata_defaults(HttpTokens="required", HttpPutResponseHopLimit=2)["Return"] is True
    assert ec2.modify_instance_metadata_defaults(HttpEndpoint="enabled")["Return"] is True
    assert ec2.get_instance_metadata_defaults()["AccountLevel"] == {
        "HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled", "ManagedBy": "account"}
    assert other.get_instance_metadata_defaults()["AccountLevel"] == {"ManagedBy": "account"}
    ec2.modify_instance_metadata_defaults(HttpTokens="no-preference", HttpPutResponseHopLimit=-1)
    assert ec2.get_instance_metadata_defaults()["AccountLevel"] == {"HttpEndpoint": "enabled", "ManagedBy": "account"}
    with pytest.raises(ec2.exceptions.ClientError) as err:
        ec2.modify_instance_metadata_defaults(HttpPutResponseHopLimit=65)
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert calls(ec2.server_url)["counts"]["ec2:ModifyInstanceMetadataDefaults"] == 4
    ec2.modify_instance_metadata_defaults(HttpEndpoint="no-preference")


def test_a_moto_reset_clears_the_metadata_defaults():
    counter = CallCounter(lambda environ, start_response: [b""])
    counter.metadata_defaults.by_region["us-east-1"] = {"HttpTokens": "required"}
    counter({"PATH_INFO": "/moto-api/reset/", "REQUEST_METHOD": "POST"}, lambda *a: None)
    assert counter.metadata_defaults.by_region == {}
