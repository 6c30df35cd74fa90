"""The strict-AWS state behaviours (tests/support/strict/iam_propagation.py, ec2_windows.py) through boto3, against a moto server
behind the real strict layer (build_app(): StrictAws(CallCounter(moto))) with only these behaviours on.

AWS time comes from the layer's StrictClock driven by a FakeClock, so each window is crossed by moving time,
not by sleeping (deterministic on a loaded machine); one test runs a real StrictClock at speed to show the
windows scale. Every answer the behaviours rewrote is parsed by botocore here (each call goes through boto3).
"""

from __future__ import annotations

import threading
import time
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.support import strict
from tests.support.fake_clock import FakeClock
from tests.support.moto_server import build_app
from tests.support.strict import StrictClock, strict_config, strict_stats

ACCOUNT = "123456789012"  # moto's default account: the ARNs moto writes
IAM_DELAY, PROFILE_DELAY, ARN_WINDOW, ASSOCIATE, DISASSOCIATE, APPLY = 8.0, 8.0, 3.0, 5.0, 5.0, 5.0
NAMES = ["iam_propagation", "ec2_profile_propagation", "unique_id_arns", "association_windows", "metadata_pending"]


class _Server:
    """A werkzeug server of build_app() with only this module's behaviours on, its clock a FakeClock."""

    def __init__(self):
        from werkzeug.serving import WSGIRequestHandler, make_server

        class Quiet(WSGIRequestHandler):
            def log_request(self, *args, **kwargs):
                pass

        self.time = FakeClock(start=1000.0)
        self.layer = build_app(strict="none," + ",".join("+" + name for name in NAMES))
        assert isinstance(self.layer, strict.StrictAws)
        self.layer.clock = StrictClock(speed=1.0, clock=self.time)
        self.behaviours = [self.layer.by_name[name] for name in NAMES]
        self.server = make_server("127.0.0.1", 0, self.layer, threaded=True, request_handler=Quiet)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def advance(self, aws_seconds):
        self.time.now += aws_seconds

    def client(self, service):
        return boto3.client(service, region_name="us-east-1", endpoint_url=self.url,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def stop(self):
        self.server.shutdown()
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def aws():
    server = _Server()
    # moto's backends are global to the process: start from an empty account (this also resets the layer)
    urllib.request.urlopen(urllib.request.Request(server.url + "/moto-api/reset", method="POST"), timeout=180)
    server.iam, server.ec2 = server.client("iam"), server.client("ec2")
    server.image = server.ec2.describe_images()["Images"][0]["ImageId"]
    yield server
    server.stop()


def _code(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def _instance(aws, count=1):
    reservation = aws.ec2.run_instances(ImageId=aws.image, MinCount=count, MaxCount=count)
    ids = [i["InstanceId"] for i in reservation["Instances"]]
    return ids if count > 1 else ids[0]


def _ready_profile(aws, name):
    """A role and a profile holding it, with every propagation window already over."""
    aws.iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")
    aws.iam.create_instance_profile(InstanceProfileName=name)
    aws.advance(IAM_DELAY)
    aws.iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    aws.advance(PROFILE_DELAY)
    return name


def _associations(aws, **kwargs):
    return aws.ec2.describe_iam_instance_profile_associations(**kwargs)["IamInstanceProfileAssociations"]


# ------------------------------------------------------------------------------------------ the switches

def test_every_behaviour_is_a_named_cited_switch_with_aws_defaults():
    assert [b.name for b in strict.STATE_BEHAVIOURS] == NAMES
    defaults = {b.name: b for b in strict.default_behaviours()}
    for name in NAMES:
        behaviour = defaults[name]
        assert isinstance(behaviour, strict.Behaviour)
        assert behaviour.source and type(behaviour).__doc__
    assert defaults["iam_propagation"].params() == {"delay": 8.0}
    assert defaults["ec2_profile_propagation"].params() == {"delay": 8.0}
    assert defaults["unique_id_arns"].params() == {"window": 3.0}
    assert defaults["association_windows"].params() == {"associate": 5.0, "disassociate": 5.0}
    assert defaults["metadata_pending"].params() == {"apply": 5.0}
    # a fresh instance per layer: two servers in one process never share windows
    assert strict.default_behaviours()[-1] is not strict.default_behaviours()[-1]


def test_each_behaviour_switches_off_alone(aws):
    instance = _instance(aws)
    assert strict_config(aws.url, disable=["metadata_pending"])["enabled"] == NAMES[:-1]
    try:
        answer = aws.ec2.modify_instance_metadata_options(InstanceId=instance, HttpTokens="required",
                                                          HttpPutResponseHopLimit=1, HttpEndpoint="enabled")
        assert answer["InstanceMetadataOptions"]["State"] == "applied"  # moto's own answer
        assert _metadata_state(aws, instance) == "applied"
    finally:
        strict_config(aws.url, enable=["metadata_pending"])
    answer = aws.ec2.modify_instance_metadata_options(InstanceId=instance, HttpTokens="required",
                                                      HttpPutResponseHopLimit=1, HttpEndpoint="enabled")
    assert answer["InstanceMetadataOptions"]["State"] == "pending"
    stats = strict_stats(aws.url)
    assert stats["behaviours"]["metadata_pending"]["state"] == {"pending": 1, "pending_until_start": 0}
    assert stats["stats"]["rewritten"]["metadata_pending"]["ec2:ModifyInstanceMetadataOptions"] >= 1
    aws.advance(APPLY)


# ---------------------------------------------------------------------------------------- propagation

def test_new_role_is_not_found_by_add_role_to_instance_profile_until_it_propagates(aws):
    aws.iam.create_role(RoleName="prop-role", AssumeRolePolicyDocument="{}")
    aws.iam.create_instance_profile(InstanceProfileName="prop-profile")
    with pytest.raises(ClientError) as excinfo:
        aws.iam.add_role_to_instance_profile(InstanceProfileName="prop-profile", RoleName="prop-role")
    assert _code(excinfo) == ("NoSuchEntity", "The role with name prop-role cannot be found.")
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    aws.advance(IAM_DELAY)
    aws.iam.add_role_to_instance_profile(InstanceProfileName="prop-profile", RoleName="prop-role")


def test_new_profile_is_invalid_for_ec2_until_it_propagates(aws):
    instance = _instance(aws)
    aws.iam.create_role(RoleName="ec2-prop", AssumeRolePolicyDocument="{}")
    profile = aws.iam.create_instance_profile(InstanceProfileName="ec2-prop")["InstanceProfile"]
    aws.advance(IAM_DELAY)
    aws.iam.add_role_to_instance_profile(InstanceProfileName="ec2-prop", RoleName="ec2-prop")  # window again
    with pytest.raises(ClientError) as excinfo:
        aws.ec2.associate_iam_instance_profile(InstanceId=instance, IamInstanceProfile={"Name": "ec2-prop"})
    assert _code(excinfo) == ("InvalidParameterValue", "Value (ec2-prop) for parameter iamInstanceProfile.name "
                                                       "is invalid. Invalid IAM Instance Profile name")
    arn = "arn:aws:iam::%s:instance-profile/ec2-prop" % ACCOUNT
    with pytest.raises(ClientError) as excinfo:
        aws.ec2.associate_iam_instance_profile(InstanceId=instance, IamInstanceProfile={"Arn": arn})
    assert _code(excinfo) == ("InvalidParameterValue", "Value (%s) for parameter iamInstanceProfile.arn is "
                                                       "invalid. Invalid IAM Instance Profile ARN" % arn)
    assert profile["InstanceProfileName"] == "ec2-prop"
    aws.advance(PROFILE_DELAY)
    answer = aws.ec2.associate_iam_instance_profile(InstanceId=instance, IamInstanceProfile={"Arn": arn})
    assert answer["IamInstanceProfileAssociation"]["InstanceId"] == instance


# ------------------------------------------------------------------------------------------ unique ids

def test_a_new_role_and_profile_read_their_unique_id_as_arn_at_first(aws):
    role = aws.iam.create_role(RoleName="uid-role", AssumeRolePolicyDocument="{}")["Role"]
    assert role["RoleId"].startswith("AROA") and role["Arn"] == role["RoleId"]
    assert aws.iam.get_role(RoleName="uid-role")["Role"]["Arn"] == role["RoleId"]
    profile = aws.iam.create_instance_profile(InstanceProfileName="uid-profile")["InstanceProfile"]
    assert profile["Arn"] == profile["InstanceProfileId"]
    assert aws.iam.get_instance_profile(InstanceProfileName="uid-profile")["InstanceProfile"]["Arn"] == \
        profile["InstanceProfileId"]
    aws.advance(ARN_WINDOW)
    assert aws.iam.get_role(RoleName="uid-role")["Role"]["Arn"] == "arn:aws:iam::%s:role/uid-role" % ACCOUNT
    assert aws.iam.get_instance_profile(InstanceProfileName="uid-profile")["InstanceProfile"]["Arn"] == \
        "arn:aws:iam::%s:instance-profile/uid-profile" % ACCOUNT


# --------------------------------------------------------------------------------------- associations

def test_an_association_is_associating_and_cannot_be_replaced_until_associated(aws):
    profile = _ready_profile(aws, "assoc-a")
    other = _ready_profile(aws, "assoc-b")
    instance = _instance(aws)
    made = aws.ec2.associate_iam_instance_profile(InstanceId=instance, IamInstanceProfile={"Name": profile})
    association = made["IamInstanceProfileAssociation"]
    assert association["State"] == "associating"
    mine = [{"Name": "instance-id", "Values": [instance]}]
    assert [a["State"] for a in _associations(aws, Filters=mine)] == ["associating"]
    assert _associations(aws, Filters=mine + [{"Name": "state", "Values": ["associated"]}]) == []
    assert [a["AssociationId"] for a in _associations(aws, Filters=[{"Name": "state", "Values": ["associating"]}])
            if a["InstanceId"] == instance] == [association["AssociationId"]]
    for call in (lambda: aws.ec2.replace_iam_instance_profile_association(
            AssociationId=association["AssociationId"], IamInstanceProfile={"Name": other}),
            lambda: aws.ec2.disassociate_iam_instance_profile(AssociationId=association["AssociationId"])):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert _code(excinfo) == ("IncorrectState", "The association %s is not the active association"
                                  % association["AssociationId"])
    aws.advance(ASSOCIATE)
    assert [a["State"] for a in _associations(aws, Filters=mine)] == ["associated"]
    replaced = aws.ec2.replace_iam_instance_profile_association(
        AssociationId=association["AssociationId"], IamInstanceProfile={"Name": other})
    assert replaced["IamInstanceProfileAssociation"]["State"] == "associating"
    assert [a["State"] for a in _associations(aws, Filters=mine)] == ["associating"]
    aws.advance(ASSOCIATE)
    assert [a["State"] for a in _associations(aws, Filters=mine)] == ["associated"]


def test_a_disassociation_reads_disassociating_and_blocks_a_new_association_until_it_ends(aws):
    profile = _ready_profile(aws, "disassoc")
    instance = _instance(aws)
    association_id = aws.ec2.associate_iam_instance_profile(
        InstanceId=instance, IamInstanceProfile={"Name": profile})["IamInstanceProfileAssociation"]["AssociationId"]
    aws.advance(ASSOCIATE)
    gone = aws.ec2.disassociate_iam_instance_profile(AssociationId=association_id)
    assert gone["IamInstanceProfileAssociation"]["State"] == "disassociating"
    mine = [{"Name": "instance-id", "Values": [instance]}]
    listed = _associations(aws, Filters=mine)
    assert [(a["AssociationId"], a["State"]) for a in listed] == [(association_id, "disassociating")]
    assert listed[0]["IamInstanceProfile"]["Arn"].endswith("/" + profile)
    assert [a["State"] for a in _associations(aws, AssociationIds=[association_id])] == ["disassociating"]
    assert _associations(aws, Filters=mine + [{"Name": "state", "Values": ["associated", "associating"]}]) == []
    assert len(_associations(aws, Filters=mine + [{"Name": "state", "Values": ["disassociating"]}])) == 1
    with pytest.raises(ClientError) as excinfo:
        aws.ec2.associate_iam_instance_profile(InstanceId=instance, IamInstanceProfile={"Name": profile})
    assert _code(excinfo) == ("IncorrectState", "There is an existing association for instance %s" % instance)
    with pytest.raises(ClientError) as excinfo:
        aws.ec2.disassociate_iam_instance_profile(AssociationId=association_id)
    assert _code(excinfo)[0] == "IncorrectState"
    aws.advance(DISASSOCIATE)
    assert _associations(aws, Filters=mine) == []
    again = aws.ec2.associate_iam_instance_profile(InstanceId=instance, IamInstanceProfile={"Name": profile})
    assert again["IamInstanceProfileAssociation"]["State"] == "associating"
    aws.advance(ASSOCIATE)


def test_pages_list_each_settling_association_once_and_add_only_to_the_last_page(aws):
    profile = _ready_profile(aws, "paged")
    instances = _instance(aws, count=7)
    ids = []
    for instance in instances:
        ids.append(aws.ec2.associate_iam_instance_profile(
            InstanceId=instance, IamInstanceProfile={"Name": profile})["IamInstanceProfileAssociation"]["AssociationId"])
    mine = [{"Name": "instance-id", "Values": instances}]
    paginator = aws.ec2.get_paginator("describe_iam_instance_profile_associations")
    for filters in (mine, mine + [{"Name": "state", "Values": ["associating"]}]):
        listed = [a for p in paginator.paginate(Filters=filters, PaginationConfig={"PageSize": 5})
                  for a in p["IamInstanceProfileAssociations"]]
        assert sorted(a["AssociationId"] for a in listed) == sorted(ids)  # each once, on whichever page
        assert {a["State"] for a in listed} == {"associating"}
    aws.advance(ASSOCIATE)
    aws.ec2.disassociate_iam_instance_profile(AssociationId=ids[0])
    pages = list(paginator.paginate(Filters=mine, PaginationConfig={"PageSize": 5}))
    assert [len(p["IamInstanceProfileAssociations"]) for p in pages] == [5, 2]
    assert "NextToken" in pages[0]
    states = {a["AssociationId"]: a["State"] for p in pages for a in p["IamInstanceProfileAssociations"]}
    assert states == dict({i: "associated" for i in ids[1:]}, **{ids[0]: "disassociating"})
    assert pages[1]["IamInstanceProfileAssociations"][-1]["AssociationId"] == ids[0]
    aws.advance(DISASSOCIATE)


# ------------------------------------------------------------------------------------ metadata options

def _metadata_state(aws, instance):
    reservations = aws.ec2.describe_instances(InstanceIds=[instance])["Reservations"]
    return reservations[0]["Instances"][0]["MetadataOptions"]["State"]


def test_a_metadata_change_on_a_running_instance_is_pending_then_applied(aws):
    instance = _instance(aws)
    raw = []
    aws.ec2.meta.events.register("before-parse.ec2.ModifyInstanceMetadataOptions",
                                 lambda response_dict, **kw: raw.append(response_dict["body"]))
    answer = aws.ec2.modify_instance_metadata_options(InstanceId=instance, HttpTokens="required",
                                                      HttpPutResponseHopLimit=2, HttpEndpoint="enabled")
    assert answer["InstanceMetadataOptions"]["State"] == "pending"
    assert answer["InstanceMetadataOptions"]["HttpTokens"] == "required"
    # rewritten in moto's own namespace, without the ns0: prefixes ElementTree writes by default
    assert b'xmlns="http://ec2.amazonaws.com/doc/' in raw[0] and b"ns0:" not in raw[0]
    assert b"<state>pending</state>" in raw[0]
    assert _metadata_state(aws, instance) == "pending"
    everyone = [i for r in aws.ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    assert {i["InstanceId"]: i["MetadataOptions"]["State"] for i in everyone}[instance] == "pending"
    assert {i["MetadataOptions"]["State"] for i in everyone if i["InstanceId"] != instance} <= {"applied"}
    aws.advance(APPLY)
    assert _metadata_state(aws, instance) == "applied"


def test_a_metadata_change_on_a_stopped_instance_stays_pending_until_it_starts(aws):
    instance = _instance(aws)
    aws.ec2.stop_instances(InstanceIds=[instance])
    answer = aws.ec2.modify_instance_metadata_options(InstanceId=instance, HttpTokens="required",
                                                      HttpPutResponseHopLimit=2, HttpEndpoint="enabled")
    assert answer["InstanceMetadataOptions"]["State"] == "pending"
    aws.advance(3600)
    assert _metadata_state(aws, instance) == "pending"
    aws.ec2.start_instances(InstanceIds=[instance])
    assert _metadata_state(aws, instance) == "pending"
    aws.advance(APPLY)
    assert _metadata_state(aws, instance) == "applied"


def test_windows_scale_with_the_clock_speed(aws):
    """A real StrictClock at speed 50: the 5-AWS-second apply window lasts 0.1 real second."""
    instance = _instance(aws)
    fake = aws.layer.clock
    aws.layer.clock = StrictClock(speed=50.0)  # what KEYLESS_STRICT_SPEED=50 gives
    try:
        started = time.monotonic()
        answer = aws.ec2.modify_instance_metadata_options(InstanceId=instance, HttpTokens="required",
                                                          HttpPutResponseHopLimit=1, HttpEndpoint="enabled")
        assert answer["InstanceMetadataOptions"]["State"] == "pending"
        while _metadata_state(aws, instance) != "applied":
            assert time.monotonic() - started < 5
            time.sleep(0.05)
        assert time.monotonic() - started >= APPLY / 50.0
    finally:
        aws.layer.clock = fake


# --------------------------------------------------------------------------------------------- reset

def test_reset_forgets_every_window(aws):
    aws.iam.create_role(RoleName="reset-role", AssumeRolePolicyDocument="{}")
    instance = _instance(aws)
    aws.ec2.modify_instance_metadata_options(InstanceId=instance, HttpTokens="required",
                                             HttpPutResponseHopLimit=1, HttpEndpoint="enabled")
    for behaviour in aws.behaviours:
        behaviour.reset()
    assert aws.iam.get_role(RoleName="reset-role")["Role"]["Arn"].startswith("arn:")
    assert _metadata_state(aws, instance) == "applied"
    aws.iam.create_instance_profile(InstanceProfileName="reset-profile")
    for behaviour in aws.behaviours:
        behaviour.reset()
    aws.iam.add_role_to_instance_profile(InstanceProfileName="reset-profile", RoleName="reset-role")
