"""Tags: list <-> dict, diff with and without purge, aws: keys untouched, validation."""

from __future__ import annotations

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.aws.tags import (
    apply_tags,
    diff_tags,
    tags_from_boto3,
    tags_to_boto3,
    validate_tags,
)


def test_round_trip():
    tags = {"b": "2", "a": "1"}
    as_list = tags_to_boto3(tags)
    assert as_list == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    assert tags_from_boto3(as_list) == tags
    assert tags_from_boto3(None) == {} and tags_to_boto3(None) == []


def test_to_boto3_stringifies():
    assert tags_to_boto3({"n": 3, "f": False}) == [{"Key": "f", "Value": "false"}, {"Key": "n", "Value": "3"}]


def test_desired_none_changes_nothing():
    assert diff_tags({"a": "1"}, None, purge=True) == ({}, [])


def test_no_change():
    assert diff_tags({"a": "1"}, {"a": "1"}, purge=True) == ({}, [])


def test_set_and_update():
    assert diff_tags({"a": "1", "b": "2"}, {"a": "9", "c": "3"}, purge=False) == ({"a": "9", "c": "3"}, [])


def test_purge_removes_unlisted():
    assert diff_tags({"a": "1", "b": "2"}, {"a": "1"}, purge=True) == ({}, ["b"])


def test_purge_empty_desired_removes_all_but_aws():
    current = {"a": "1", "aws:cloudformation:stack-name": "s", "AWS:Other": "x"}
    assert diff_tags(current, {}, purge=True) == ({}, ["a"])


def test_aws_keys_never_set():
    assert diff_tags({}, {"aws:x": "1", "k": "v"}, purge=True) == ({"k": "v"}, [])


def test_values_compared_as_text():
    assert diff_tags({"n": "3"}, {"n": 3}, purge=True) == ({}, [])


def test_apply_tags():
    assert apply_tags({"a": "1", "b": "2"}, {"c": "3"}, ["a"]) == {"b": "2", "c": "3"}


@pytest.mark.parametrize("tags,fragment", [
    ({"": "v"}, "1-128"),
    ({"k" * 129: "v"}, "1-128"),
    ({"k": "v" * 257}, "0-256"),
    ({"aws:name": "v"}, "reserves"),
    ({"bad#key": "v"}, "contains #"),
    ({"k": "bad|value"}, "contains |"),
    ({"t%d" % i: "v" for i in range(51)}, "at most 50"),
    (["a"], "must be a mapping"),
])
def test_validate_errors(tags, fragment):
    errors = validate_tags(tags, "tags")
    assert errors and any(fragment in e for e in errors), errors
    assert all(e.startswith("tags") for e in errors)


@pytest.mark.parametrize("tags", [None, {}, {"Name": "web server", "team": "a_b.c:d/e=f+g-h@i", "empty": ""},
                                  {"k" * 128: "v" * 256}, {"t%d" % i: "v" for i in range(50)}, {"Größe": "Ünï"}])
def test_validate_ok(tags):
    assert validate_tags(tags, "tags") == []
