"""The per-instance association plan (every state x profile combination) and profile resolution."""

from __future__ import annotations

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.fleet import associations as assoc

WANT = "arn:aws:iam::123456789012:instance-profile/App"
OTHER = "arn:aws:iam::123456789012:instance-profile/Legacy"


def current(arn, state="associated"):
    return {"association_id": "iip-assoc-1", "state": state, "profile_arn": arn}


@pytest.mark.parametrize("instance_state, cur, desired_state, expected", [
    ("running", None, "present", "associate"),
    ("stopped", None, "present", "associate"),
    ("running", current(WANT), "present", "none"),
    ("stopped", current(WANT), "present", "none"),
    ("running", current(WANT, "associating"), "present", "none"),
    ("running", current(OTHER), "present", "replace"),
    ("stopped", current(OTHER), "present", "disassociate_associate"),
    ("running", current(OTHER, "associating"), "present", "replace"),
    ("running", current(OTHER, "disassociating"), "present", "associate"),
    ("stopped", current(OTHER, "disassociating"), "present", "associate"),
    ("running", None, "absent", "none"),
    ("stopped", None, "absent", "none"),
    ("running", current(WANT), "absent", "disassociate"),
    ("stopped", current(OTHER), "absent", "disassociate"),
    ("running", current(OTHER, "disassociating"), "absent", "none"),
])
def test_plan_table(instance_state, cur, desired_state, expected):
    assert assoc.plan_association(instance_state, cur, WANT if desired_state == "present" else None,
                                  desired_state) == expected


@pytest.mark.parametrize("value", ["App", "app.profile+x=y,z@w_-", "a" * 128, WANT,
                                   "arn:aws:iam::123456789012:instance-profile/path/to/App",
                                   "arn:aws-us-gov:iam::123456789012:instance-profile/App"])
def test_profile_option_ok(value):
    assert assoc.validate_profile_option(value) == []


@pytest.mark.parametrize("value", ["", "a" * 129, "bad name", "arn:aws:iam::123:instance-profile/App",
                                   "arn:aws:iam::123456789012:role/App"])
def test_profile_option_bad(value):
    errs = assoc.validate_profile_option(value)
    assert len(errs) == 1 and "instance_profile" in errs[0]
