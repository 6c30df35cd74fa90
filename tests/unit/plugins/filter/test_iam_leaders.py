"""iam_leaders: one target per account and role name converges the account's IAM role; a different declaration of
the same role in one account is refused for every target of the group; an unknown account leads itself."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.keyless.aws.plugins.filter.iam_leaders import iam_leaders

A, B = "111122223333", "444455556666"


def target(name, account, role="AppRole", declared="d1"):
    return {"name": name, "account": account, "role_name": role, "declared": declared}


def test_first_target_of_each_account_leads_whatever_the_number_of_regions():
    plan = iam_leaders([target("a-use1", A), target("b-use1", B), target("a-euw1", A), target("a-aps1", A),
                        target("b-euw1", B)])
    assert {name: entry["leader"] for name, entry in plan.items()} == {
        "a-use1": "a-use1", "a-euw1": "a-use1", "a-aps1": "a-use1", "b-use1": "b-use1", "b-euw1": "b-use1"}
    assert all(entry["error"] is None for entry in plan.values())


def test_two_roles_in_one_account_have_a_leader_each():
    plan = iam_leaders([target("a-web", A, role="Web"), target("a-batch", A, role="Batch"),
                        target("a-web-2", A, role="Web")])
    assert plan["a-web-2"]["leader"] == "a-web" and plan["a-batch"]["leader"] == "a-batch"


def test_the_same_role_declared_differently_is_refused_for_every_target_of_the_account():
    plan = iam_leaders([target("a-use1", A, declared="d1"), target("a-euw1", A, declared="d2"), target("b-use1", B)])
    for name in ("a-use1", "a-euw1"):
        assert plan[name]["leader"] is None
        assert "a-use1, a-euw1" in plan[name]["error"] and A in plan[name]["error"] and "AppRole" in plan[name]["error"]
    assert plan["b-use1"] == {"leader": "b-use1", "error": None}


def test_an_unknown_account_leads_itself():
    plan = iam_leaders([target("x", None), target("y", None), target("a", A)])
    assert plan["x"]["leader"] == "x" and plan["y"]["leader"] == "y" and plan["a"]["leader"] == "a"


@pytest.mark.parametrize("bad", ["text", [{"account": A}], [None]])
def test_bad_input_is_refused(bad):
    with pytest.raises(AnsibleFilterError):
        iam_leaders(bad)


def test_a_target_the_census_could_not_reach_does_not_lead_its_account():
    plan = iam_leaders([dict(target("a-use1", A), usable=False), target("a-euw1", A), dict(target("b-use1", B), usable=False)])
    assert plan["a-use1"]["leader"] == "a-euw1" and plan["a-euw1"]["leader"] == "a-euw1"
    assert plan["b-use1"]["leader"] == "b-use1"  # none reachable: the first leads (and fails with its own error)
