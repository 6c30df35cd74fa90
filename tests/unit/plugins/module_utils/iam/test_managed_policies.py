"""Managed policies: the pure plan (create, new version, 5-version limit, immutable fields, tags, absent)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.iam import managed_policies as mp

ARN = "arn:aws:iam::123456789012:policy/app/P"
DOC = {"Version": "2012-10-17",
       "Statement": [{"Sid": "S3", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/*"}]}
# The same policy written differently: string vs one-item list, no Version, action case.
SAME_DOC = {"Statement": {"Sid": "S3", "Effect": "Allow", "Action": "S3:GetObject", "Resource": ["arn:aws:s3:::b/*"]}}
OTHER_DOC = {"Version": "2012-10-17",
             "Statement": [{"Sid": "S3", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*"}]}


def versions(n, default=None):
    default = default or "v%d" % n
    return [{"version_id": "v%d" % i, "is_default": "v%d" % i == default, "create_date": "2026-01-%02dT00:00:00" % i}
            for i in range(1, n + 1)]


def current(n_versions=1, tags=None, description="", path="/app/", default=None):
    return {"arn": ARN, "policy_name": "P", "policy_id": "ANPA1", "path": path,
            "default_version_id": default or "v%d" % n_versions, "description": description, "document": DOC,
            "tags": dict(tags or {}), "attachment_count": 0, "permissions_boundary_usage_count": 0,
            "versions": versions(n_versions, default)}


def want(**kw):
    base = {"name": "P", "path": None, "description": None, "document": DOC, "tags": None, "purge_tags": True}
    base.update(kw)
    return base


def test_create_carries_everything():
    plan = mp.plan_present(want(path="/app/", description="d", tags={"a": 1}), None)
    assert plan.actions() == ["create_policy"]
    params = plan.changes[0].params
    assert params["PolicyName"] == "P" and params["Path"] == "/app/" and params["Description"] == "d"
    assert json.loads(params["PolicyDocument"]) == DOC
    assert params["Tags"] == [{"Key": "a", "Value": "1"}]


def test_create_defaults_path_and_omits_empty_description():
    params = mp.plan_present(want(), None).changes[0].params
    assert params["Path"] == "/" and "Description" not in params and "Tags" not in params


def test_equivalent_document_is_no_change():
    assert not mp.plan_present(want(document=SAME_DOC), current()).changed


def test_changed_document_is_new_default_version():
    plan = mp.plan_present(want(document=OTHER_DOC), current(n_versions=2))
    assert plan.actions() == ["create_policy_version"]
    assert plan.changes[0].params["SetAsDefault"] is True
    assert json.loads(plan.changes[0].params["PolicyDocument"]) == OTHER_DOC


def test_at_five_versions_the_oldest_non_default_goes_first():
    plan = mp.plan_present(want(document=OTHER_DOC), current(n_versions=5))
    assert plan.actions() == ["delete_policy_version", "create_policy_version"]
    assert plan.changes[0].params == {"PolicyArn": ARN, "VersionId": "v1"}


def test_oldest_skips_the_default_version():
    # v1 is the default (e.g. someone set it back); v2 is the oldest deletable
    plan = mp.plan_present(want(document=OTHER_DOC), current(n_versions=5, default="v1"))
    assert plan.changes[0].params["VersionId"] == "v2"


def test_version_order_is_numeric_not_textual():
    vs = [{"version_id": v, "is_default": v == "v12", "create_date": None} for v in ("v10", "v9", "v11", "v12")]
    assert mp.oldest_deletable_version(vs) == "v9"
    assert mp.next_version_id(vs) == "v13"
    assert mp.oldest_deletable_version([{"version_id": "v1", "is_default": True}]) is None


def test_description_is_immutable():
    with pytest.raises(mp.PolicyPlanError, match=r"description='new'.*'old'.*create it again"):
        mp.plan_present(want(description="new"), current(description="old"))
    assert not mp.plan_present(want(description="old"), current(description="old")).changed
    assert not mp.plan_present(want(description=None), current(description="old")).changed


def test_path_is_immutable():
    with pytest.raises(mp.PolicyPlanError, match=r"path='/other/'.*'/app/'"):
        mp.plan_present(want(path="/other/"), current())


def test_tags_diff():
    plan = mp.plan_present(want(tags={"a": "2", "c": "3"}), current(tags={"a": "1", "b": "x", "aws:x": "y"}))
    assert plan.actions() == ["tag_policy", "untag_policy"]
    assert plan.changes[0].params["Tags"] == [{"Key": "a", "Value": "2"}, {"Key": "c", "Value": "3"}]
    assert plan.changes[1].params["TagKeys"] == ["b"]
    assert mp.plan_present(want(tags={"a": "1"}), current(tags={"a": "1", "b": "x"}), purge_tags=False).changed is False


def test_absent_detaches_everything_then_deletes_versions_then_policy():
    plan = mp.plan_absent(current(n_versions=3), {"roles": ["r1"], "users": ["u1"], "groups": ["g1"]})
    assert plan.actions() == ["detach_role_policy", "detach_user_policy", "detach_group_policy",
                              "delete_policy_version", "delete_policy_version", "delete_policy"]
    assert [c.params.get("VersionId") for c in plan.changes[3:5]] == ["v1", "v2"]  # never the default v3
    assert plan.changes[0].params == {"RoleName": "r1", "PolicyArn": ARN}
    assert not mp.plan_absent(None, {}).changed


def test_predict_create_builds_arn():
    plan = mp.plan_present(want(path="/app/", tags={"a": "1"}), None)
    obj = mp.predict(want(path="/app/", tags={"a": "1"}), None, plan, "aws-us-gov", "111122223333")
    assert obj["arn"] == "arn:aws-us-gov:iam::111122223333:policy/app/P"
    assert obj["default_version_id"] == "v1" and obj["document"] == DOC and obj["tags"] == {"a": "1"}


def test_predict_update_bumps_version():
    cur = current(n_versions=5)
    plan = mp.plan_present(want(document=OTHER_DOC, tags={}), cur)
    obj = mp.predict(want(document=OTHER_DOC, tags={}), cur, plan, None, None)
    assert obj["default_version_id"] == "v6" and obj["document"] == OTHER_DOC and obj["tags"] == {}
    assert "versions" not in obj


def test_document_decoding():
    assert mp._document(DOC) is DOC
    assert mp._document("%7B%22Statement%22%3A%20%5B%7B%22Effect%22%3A%20%22Allow%22%2C%20%22Action%22%3A"
                        "%20%22s3%3AGetObject%22%7D%5D%7D")["Statement"][0]["Action"] == "s3:GetObject"
