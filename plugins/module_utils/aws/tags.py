# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tags: boto3 list <-> dict, diff with purge, validation. Keys starting with `aws:` are AWS's own:
they are never set, changed or removed here (AWS rejects it, and they are not the user's to manage).

Private to the collection: no stable API.
"""

from __future__ import annotations

MAX_TAGS = 50
MAX_KEY_LEN = 128
MAX_VALUE_LEN = 256
_ALLOWED_PUNCTUATION = set("_.:/=+-@ ")


def is_aws_key(key):
    # AWS reserves the prefix in any letter case.
    return str(key).lower().startswith("aws:")


def _text(value):
    """Ansible may hand us ints or bools as tag values; AWS stores text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def tags_from_boto3(tag_list):
    """[{"Key": k, "Value": v}, ...] -> {k: v}."""
    return {t["Key"]: t.get("Value", "") for t in (tag_list or [])}


def tags_to_boto3(tags):
    """{k: v} -> [{"Key": k, "Value": v}, ...] sorted by key (stable requests, stable tests)."""
    return [{"Key": str(k), "Value": _text(v)} for k, v in sorted((tags or {}).items())]


def diff_tags(current, desired, purge):
    """What to change so `current` has `desired`: (to_set {k: v}, to_remove [k]).

    desired=None means the user did not manage tags: nothing changes, whatever purge says.
    purge=True removes current keys not in desired; `aws:` keys are never touched either way.
    """
    current = current or {}
    if desired is None:
        return {}, []
    desired = {str(k): _text(v) for k, v in desired.items() if not is_aws_key(k)}
    to_set = {k: v for k, v in desired.items() if current.get(k) != v}
    to_remove = []
    if purge:
        to_remove = sorted(k for k in current if k not in desired and not is_aws_key(k))
    return to_set, to_remove


def apply_tags(current, to_set, to_remove):
    """The tag dict after a diff is applied (for predicted objects in check mode)."""
    out = {k: v for k, v in (current or {}).items() if k not in set(to_remove)}
    out.update(to_set)
    return out


def _bad_chars(text):
    return sorted({c for c in text if not (c.isalnum() or c.isspace() or c in _ALLOWED_PUNCTUATION)})


def validate_tags(tags, option="tags"):
    """Error messages for a tag mapping (empty list when valid). None (not managed) is valid."""
    if tags is None:
        return []
    if not isinstance(tags, dict):
        return ["%s must be a mapping of tag key to value, got %s" % (option, type(tags).__name__)]
    errors = []
    if len(tags) > MAX_TAGS:
        errors.append("%s has %d tags: AWS allows at most %d per resource" % (option, len(tags), MAX_TAGS))
    for key, value in tags.items():
        key = str(key)
        text = _text(value)
        if not 1 <= len(key) <= MAX_KEY_LEN:
            errors.append("%s key %r is %d characters long: keys must be 1-%d characters"
                          % (option, key, len(key), MAX_KEY_LEN))
        if is_aws_key(key):
            errors.append("%s key %r starts with 'aws:', which AWS reserves: choose another key" % (option, key))
        if len(text) > MAX_VALUE_LEN:
            errors.append("%s value of %r is %d characters long: values must be 0-%d characters"
                          % (option, key, len(text), MAX_VALUE_LEN))
        for label, part in (("key", key), ("value of %r" % key, text)):
            bad = _bad_chars(part)
            if bad:
                errors.append("%s %s contains %s: allowed are letters, digits, spaces and _ . : / = + - @"
                              % (option, label if label != "key" else "key %r" % key, "".join(bad)))
    return errors


def plan_tag_changes(plan, target, ident, current, desired, purge, tag_action, untag_action):
    """Add the tag/untag changes that bring `current` to `desired` to plan (IAM's TagX/UntagX shape).

    ident: the request's resource key, e.g. {"PolicyArn": arn}; before/after show only the touched keys."""
    if desired is None:
        return plan
    to_set, to_remove = diff_tags(current, desired, purge)
    if to_set:
        plan.add(tag_action, target, dict(ident, Tags=tags_to_boto3(to_set)),
                 before={k: current.get(k) for k in to_set}, after=dict(to_set))
    if to_remove:
        plan.add(untag_action, target, dict(ident, TagKeys=sorted(to_remove)),
                 before={k: current.get(k) for k in to_remove}, after=None)
    return plan
