"""close_matches: difflib.get_close_matches on the names without a shared prefix."""

from __future__ import annotations

import difflib

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.keyless.aws.plugins.filter.close_matches import FilterModule, close_matches
from tests.support.aws_env import ROOT

ROLE_VARIABLES = sorted({name for entry in yaml.safe_load(
    (ROOT / "roles/ec2_identity/meta/argument_specs.yml").read_text())["argument_specs"].values()
    for name in entry["options"]})


@pytest.mark.parametrize("typo,first", [
    ("ec2_identity_role_nmae", "ec2_identity_role_name"),
    ("ec2_identity_instance_tag", "ec2_identity_instance_tags"),
    ("ec2_identity_regoin", "ec2_identity_region"),
    ("ec2_identity_managed_policy", "ec2_identity_managed_policies"),
    ("ec2_identity_http_token", "ec2_identity_http_tokens"),
])
def test_a_typo_names_the_variable_meant_first(typo, first):
    assert close_matches(typo, ROLE_VARIABLES, prefix="ec2_identity_")[0] == first


def test_the_readme_typo_lists_the_instance_profile_name():
    matches = close_matches("ec2_identity_profile_name", ROLE_VARIABLES, prefix="ec2_identity_")
    assert "ec2_identity_instance_profile_name" in matches and "ec2_identity_profile" in matches


def test_the_prefix_keeps_unrelated_names_out():
    # compared whole, the 13 shared characters make every role variable look close
    assert difflib.get_close_matches("ec2_identity_xyzzy", ROLE_VARIABLES)
    assert close_matches("ec2_identity_xyzzy", ROLE_VARIABLES, prefix="ec2_identity_") == []


def test_difflib_semantics_without_a_prefix():
    names = ["region", "profile", "endpoint_url", "regions"]
    assert close_matches("regoin", names) == difflib.get_close_matches("regoin", sorted(names))
    assert close_matches("regoin", names, n=1, cutoff=0.9) == []
    assert close_matches("other_region", names, prefix="ec2_") == difflib.get_close_matches("other_region", sorted(names))


@pytest.mark.parametrize("kwargs", [{"n": 0}, {"cutoff": 1.5}, {"n": "many"}])
def test_bad_arguments_are_refused(kwargs):
    with pytest.raises(AnsibleFilterError):
        close_matches("x", ["y"], **kwargs)
    with pytest.raises(AnsibleFilterError):
        close_matches("x", "not a list")


def test_the_filter_is_registered():
    assert FilterModule().filters()["close_matches"] is close_matches
