"""The census engine (module_utils/fleet/census.py) and its module, ec2_fleet_census.

validate_targets is pure: every problem of every target at once, before any call. run_census runs against the
in-process moto server (strict layer on; seeding under strict_off, as fleet_seed does) with two member accounts,
reached by AssumeRole, times two regions, plus a third account whose AssumeRole is refused (moto never refuses
one: the Deny middleware in front of the server answers AccessDenied as STS does, as in
tests/unit/plugins/inventory/test_targets.py). Every call is counted where it arrives (moto_server.calls, per
account under "by_account").
"""

from __future__ import annotations


import pytest

from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import InputError
from ansible_collections.keyless.aws.plugins.module_utils.fleet import census
from ansible_collections.keyless.aws.plugins.modules import ec2_fleet_census as mod
from tests.support import fleet_seed
from tests.support.aws_env import FAKE_ACCESS_KEY, FAKE_SECRET_KEY
from tests.support.deny import denying_server
from tests.support.module_runner import run_module
from tests.support.moto_server import calls
from tests.support.strict import strict_off

SHOP = "111111111111"
DATA = "222222222222"
LOCKED = "333333333333"
REGIONS = ("us-east-1", "eu-west-1")
UNKNOWN_ID = "i-0123456789abcdef0"


def role(account):
    return "arn:aws:iam::%s:role/keyless-deployer" % account


def base(url=None, region="us-east-1"):
    """The module's own connection options (aws_argument_spec), as the module hands them to run_census."""
    return {"region": region, "profile": None, "endpoint_url": url, "access_key": FAKE_ACCESS_KEY,
            "secret_key": FAKE_SECRET_KEY, "session_token": None, "validate_certs": True, "aws_ca_bundle": None,
            "retry_mode": "standard", "max_attempts": 10, "assume_role_arn": None,
            "assume_role_session_name": "keyless-aws", "assume_role_external_id": None, "assume_role_duration": None}


def target(name, account=None, region="us-east-1", selector=None, **extra):
    connection = {"region": region}
    if account:
        connection["assume_role_arn"] = role(account)
    entry = {"name": name, "connection": connection, "selector": selector if selector is not None else
             {"tags": {"App": "shop"}}, "states": ["running", "stopped"]}
    entry.update(extra)
    return entry


# ---------------------------------------------------------------- validate_targets (pure)

def test_valid_targets_have_no_problem():
    targets = [target("shop-us-east-1", SHOP), target("shop-eu-west-1", SHOP, "eu-west-1"),
               target("ids", selector={"instance_ids": [UNKNOWN_ID]}), target("all", selector={"all_instances": True}),
               target("running", states=["running"])]
    assert census.validate_targets(targets, base()) == []


def test_every_problem_of_every_target_at_once():
    targets = [
        target("shop"),
        target("shop", region="eu-west-1"),  # the same name twice
        {"connection": {"region": "us-east-1"}, "selector": {"tags": {"App": "shop"}}},  # no name
        target("conn", connection={"region": "us-east-1", "access_key": "AKIA", "colour": "blue"}),
        target("sel", selector={"tags": {"App": "shop"}, "tag": {"App": "x"}}),
        target("states", states=["running", "asleep"]),
        target("nostates", states=[]),
        target("empty", selector={}),
        target("arn", connection={"region": "us-east-1", "assume_role_arn": "arn:aws:iam::12345:role/x"}),
        target("noregion", connection={"region": None}),
    ]
    errors = census.validate_targets(targets, base(region=None))
    text = "\n".join(errors)
    assert "target shop is listed twice" in text
    assert "targets[2]: name is required" in text
    assert any(e.startswith("target conn: connection option(s) access_key, colour are not known: use region,")
               for e in errors), errors
    assert any(e.startswith("target sel: selector option(s) tag are not known: use instance_ids, filters, tags, "
                            "all_instances") for e in errors), errors
    assert any(e.startswith("target states: ") and "'asleep'" in e and "pending" in e for e in errors), errors
    assert any(e.startswith("target nostates: ") and "states=[] selects nothing" in e for e in errors), errors
    assert any(e.startswith("target empty: the selector is empty") and "all_instances" in e for e in errors), errors
    assert any(e.startswith("target arn: assume_role_arn='arn:aws:iam::12345:role/x' is not a role ARN")
               for e in errors), errors
    # no region here is no input error: the target takes its profile's, or its row says it has none (run_census)
    assert not any(e.startswith("target noregion:") for e in errors), errors
    # a target with a region of its own is not short of one, whatever the module's region
    assert not any(e.startswith(("target shop: no region", "target conn: no region")) for e in errors), errors
    # one message per problem: the bad state is named once
    assert sum("asleep" in e for e in errors) == 1, errors


def test_the_module_region_is_every_target_default():
    assert census.validate_targets([{"name": "a", "selector": {"tags": {"App": "x"}}}], base(region="eu-west-1")) == []


def test_states_inside_the_selector_are_refused_not_ignored():
    errors = census.validate_targets([target("t", selector={"tags": {"App": "x"}, "states": ["running"]})], base())
    assert len(errors) == 1 and "targets[].states" in errors[0] and errors[0].startswith("target t: "), errors


@pytest.mark.parametrize("selector, every_instance, ids", [
    ({"all_instances": "False", "tags": {"App": "x"}}, False, None),  # a templated false, not "every instance"
    ({"all_instances": "yes"}, True, None),
    ({"instance_ids": "%s,i-0123456789abcdef1" % UNKNOWN_ID}, False,  # a comma-separated list, as Ansible's list
     [UNKNOWN_ID, "i-0123456789abcdef1"]),
])
def test_selector_values_convert_as_the_fleet_modules_convert_them(selector, every_instance, ids):
    assert census.validate_targets([target("t", selector=selector)], base()) == []
    converted = census._selector({"selector": selector, "states": ["running"]})  # pylint: disable=protected-access
    assert converted["all_instances"] is every_instance
    assert converted.get("instance_ids") == ids


def test_selector_values_that_do_not_convert_are_refused():
    errors = census.validate_targets([target("t", selector={"all_instances": "maybe"})], base())
    assert len(errors) == 1 and errors[0].startswith("target t: selector option all_instances='maybe'"), errors


def test_run_census_refuses_bad_input_before_any_call():
    # no endpoint is reachable on port 9: a call would fail with EndpointConnectionError, not InputError
    with pytest.raises(InputError) as failure:
        census.run_census([target("a"), target("a")], base("http://127.0.0.1:9"), 4)
    assert failure.value.errors == ["target a is listed twice: each inventory host is one target"]


def test_account_of():
    assert census.account_of({"assume_role_arn": role(SHOP)}) == SHOP
    assert census.account_of({"assume_role_arn": None}) is None
    assert census.account_of({}) is None


# ---------------------------------------------------------------- run_census against the local endpoint

@pytest.fixture(scope="module")
def org():
    """Two member accounts x two regions, seeded through their roles; LOCKED's role refuses AssumeRole.

    SHOP  us-east-1: 3 running App=shop, 1 running App=other;  eu-west-1: 1 terminated App=gone (no App=shop)
    DATA  us-east-1: 2 running + 1 stopped App=shop;           eu-west-1: 1 running App=shop
    """
    with denying_server(roles=[role(LOCKED)]) as (server, _deny):
        url = server.url
        fleets = {}
        with fleet_seed.as_role(url, role(SHOP)) as session:
            fleets["shop-use1"] = fleet_seed.seed_fleet(url, 3, region="us-east-1", prefix="shop", mix="uniform",
                                                        tag={"App": "shop"}, history_days=0)
            fleet_seed.seed_fleet(url, 1, region="us-east-1", prefix="other", mix="uniform",
                                  tag={"App": "other"}, history_days=0)
            gone = fleet_seed.seed_fleet(url, 1, region="eu-west-1", prefix="gone", mix="uniform",
                                         tag={"App": "gone"}, history_days=0)
            with strict_off(url):
                session.client("ec2", region_name="eu-west-1", endpoint_url=url).terminate_instances(
                    InstanceIds=gone["all"])
        with fleet_seed.as_role(url, role(DATA)) as session:
            data = fleet_seed.seed_fleet(url, 3, region="us-east-1", prefix="data", mix="uniform",
                                         tag={"App": "shop"}, history_days=0)
            with strict_off(url):
                session.client("ec2", region_name="us-east-1", endpoint_url=url).stop_instances(
                    InstanceIds=data["all"][:1])
            fleet_seed.seed_fleet(url, 1, region="eu-west-1", prefix="data", mix="uniform",
                                  tag={"App": "shop"}, history_days=0)
        yield {"url": url, "fleets": fleets, "gone": gone["all"]}


TARGETS = [
    target("shop-us-east-1", SHOP),
    target("shop-eu-west-1", SHOP, "eu-west-1"),
    target("data-us-east-1", DATA, states=["running"]),
    target("data-eu-west-1", DATA, "eu-west-1"),
    target("shop-eu-west-1-gone", SHOP, "eu-west-1", selector={"tags": {"App": "gone"}}),
    target("shop-us-east-1-ids", SHOP, selector={"instance_ids": [UNKNOWN_ID]}),
    target("locked-us-east-1", LOCKED),
    target("locked-eu-west-1", LOCKED, "eu-west-1"),
]


def by_name(rows):
    return dict((row["name"], row) for row in rows)


def test_counts_idle_and_failures_of_two_accounts_in_two_regions(org):
    calls(org["url"], reset=True)
    rows = census.run_census(TARGETS, base(org["url"]), 4)
    assert [r["name"] for r in rows] == [t["name"] for t in TARGETS]  # in the order given
    got = by_name(rows)

    def counts(name):
        row = got[name]
        return (row["region"], row["account"], row["selected"], row["skipped"], row["missing"], row["idle"],
                row["error"])

    assert counts("shop-us-east-1") == ("us-east-1", SHOP, 3, 0, 0, False, None)
    assert counts("shop-eu-west-1") == ("eu-west-1", SHOP, 0, 0, 0, True, None)
    # states [running]: the stopped instance is found, skipped, and the target is not idle
    assert counts("data-us-east-1") == ("us-east-1", DATA, 2, 1, 0, False, None)
    assert counts("data-eu-west-1") == ("eu-west-1", DATA, 1, 0, 0, False, None)
    # only a terminated instance: nothing selected, but not idle (the fleet module reports it as skipped)
    assert counts("shop-eu-west-1-gone") == ("eu-west-1", SHOP, 0, 1, 0, False, None)
    # an instance id that is not there: missing, not idle (the fleet module reports it)
    assert counts("shop-us-east-1-ids") == ("us-east-1", SHOP, 0, 0, 1, False, None)
    # the refused AssumeRole: an error naming the role and the code, not idle; the other targets were counted
    for name in ("locked-us-east-1", "locked-eu-west-1"):
        row = got[name]
        assert row["account"] == LOCKED and not row["idle"] and row["selected"] is None and not row["complete"], row
        assert "AssumeRole of %s failed: AccessDenied" % role(LOCKED) in row["error"], row["error"]
    assert [r["name"] for r in rows if r["idle"]] == ["shop-eu-west-1"]

    seen = calls(org["url"])
    # one AssumeRole per account that answers, whatever the number of its regions and targets (4 for SHOP); the
    # refused ones never reach the counter (the Deny layer answers them)
    assert seen["counts"]["sts:AssumeRole"] == 2, seen["counts"]
    assert seen["mutating"] == seen["counts"]["sts:AssumeRole"], seen["counts"]  # read-only but for AssumeRole
    # one DescribeInstances a target (no target has more than a page), each in its own account
    assert seen["by_account"][SHOP]["ec2:DescribeInstances"] == 4, seen["by_account"]
    assert seen["by_account"][DATA]["ec2:DescribeInstances"] == 2, seen["by_account"]
    assert LOCKED not in seen["by_account"]


def test_one_worker_gives_the_same_answer(org):
    rows = census.run_census(TARGETS, base(org["url"]), 1)
    again = census.run_census(TARGETS, base(org["url"]), 16)
    strip = [dict(r, error=bool(r["error"])) for r in rows]
    assert strip == [dict(r, error=bool(r["error"])) for r in again]


def test_a_target_without_a_role_counts_with_the_module_credentials(org):
    # the module's own account (moto's default for the fake key) has no instance: idle; its account from STS
    rows = census.run_census([target("home", selector={"all_instances": True})], base(org["url"]), 2)
    assert rows[0]["idle"] and rows[0]["error"] is None and rows[0]["selected"] == 0, rows
    assert rows[0]["account"] == "123456789012"


def test_a_target_not_to_count_is_never_idle_and_costs_no_describe(org):
    calls(org["url"], reset=True)
    rows = census.run_census([target("iam-only", SHOP, count=False, selector={}),
                              dict(target("home", selector={}), count=False, account=DATA)], base(org["url"]), 2)
    assert [(r["counted"], r["idle"], r["account"], r["error"]) for r in rows] == \
        [(False, False, SHOP, None), (False, False, DATA, None)], rows
    assert "ec2:DescribeInstances" not in calls(org["url"])["counts"]
    errors = census.validate_targets([dict(target("t", selector={}), count=False, account="12345")], base())
    assert len(errors) == 1 and errors[0].startswith("target t: account='12345' is not an account id"), errors


# ---------------------------------------------------------------- the module

def run(org, args, **kwargs):
    return run_module(mod.main, dict(args, endpoint_url=org["url"]), **kwargs)


def test_the_module_returns_targets_idle_and_counts_and_check_mode_agrees(org):
    args = {"targets": TARGETS[:4] + TARGETS[6:7], "concurrency": 4}
    result = run(org, args)
    assert not result.failed and not result.changed, result
    assert list(result["targets"]) == ["shop-us-east-1", "shop-eu-west-1", "data-us-east-1", "data-eu-west-1",
                                       "locked-us-east-1"]
    shop = result["targets"]["shop-us-east-1"]
    assert (shop["region"], shop["account"], shop["selected"], shop["idle"], shop["error"]) == \
        ("us-east-1", SHOP, 3, False, None)
    assert "name" not in shop
    assert result["idle"] == ["shop-eu-west-1"]
    assert result["counts"] == {"targets": 5, "idle": 1, "failed": 1, "selected": 3 + 2 + 1}
    checked = run(org, args, check_mode=True)
    assert not checked.failed and not checked.changed
    assert checked["idle"] == result["idle"] and checked["counts"] == result["counts"]
    assert dict((k, v["selected"]) for k, v in checked["targets"].items()) == \
        dict((k, v["selected"]) for k, v in result["targets"].items())


def test_the_module_refuses_bad_input_before_any_call(org):
    calls(org["url"], reset=True)
    result = run(org, {"targets": [target("a"), target("a"), target("b", selector={"colour": "blue"})],
                       "concurrency": 0})
    assert result.failed
    assert "target a is listed twice" in result["msg"]
    assert "selector option(s) colour are not known" in result["msg"]
    assert calls(org["url"])["total"] == 0


class PagedEc2:
    """DescribeInstances answering from a list of pages as EC2 does with filters: a page may be empty and still have
    a NextToken (EC2 filters a page after reading it). Records every request."""

    def __init__(self, pages):
        self.pages, self.requests = pages, []

    def describe_instances(self, **request):
        self.requests.append(request)
        index = int(request.get("NextToken") or 0)
        instances = [{"InstanceId": iid, "State": {"Name": state}} for iid, state in self.pages[index]]
        answer = {"Reservations": [{"Instances": instances}] if instances else []}
        if index + 1 < len(self.pages):
            answer["NextToken"] = str(index + 1)
        return answer


def test_probe_reads_the_smallest_page_and_stops_at_the_first_match():
    # more matches than the first page holds: found, not complete, no counts; one call of 5
    ec2 = PagedEc2([[("i-%d" % n, "running") for n in range(5)], [("i-9", "running")]])
    out = census.probe(ec2, {"tags": {"App": "shop"}, "states": ["running", "stopped"]})
    assert out == {"complete": False, "selected": None, "skipped": None, "missing": None, "found": True}
    assert [r["MaxResults"] for r in ec2.requests] == [census.PROBE_FIRST_PAGE]
    assert ec2.requests[0]["Filters"] == [{"Name": "tag:App", "Values": ["shop"]}]


def test_probe_follows_empty_pages_with_a_token_before_it_says_idle():
    # two empty pages with a NextToken, then a match: not idle; the later pages are big ones
    ec2 = PagedEc2([[], [], [("i-1", "stopped")]])
    out = census.probe(ec2, {"tags": {"App": "shop"}, "states": ["running"]})
    assert out == {"complete": True, "selected": 0, "skipped": 1, "missing": 0, "found": True}
    assert [r["MaxResults"] for r in ec2.requests] == [5, census.PROBE_NEXT_PAGE, census.PROBE_NEXT_PAGE]
    # every page empty: nothing matches, complete
    assert census.probe(PagedEc2([[], []]), {"tags": {"App": "shop"}, "states": ["running"]})["found"] is False


def test_probe_counts_missing_ids_and_leaves_too_many_ids_to_the_fleet_step():
    ec2 = PagedEc2([[("i-1", "running")]])
    out = census.probe(ec2, {"instance_ids": ["i-1", "i-2"], "states": ["running", "stopped"]})
    assert out == {"complete": True, "selected": 1, "skipped": 0, "missing": 1, "found": True}
    assert {"Name": "instance-id", "Values": ["i-1", "i-2"]} in ec2.requests[0]["Filters"]
    many = PagedEc2([[]])
    out = census.probe(many, {"instance_ids": ["i-%d" % n for n in range(201)], "states": ["running"]})
    assert out["found"] and not out["complete"] and many.requests == []
