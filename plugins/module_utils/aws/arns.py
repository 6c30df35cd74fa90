# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ARNs and IAM names: parse and validate, pure, so bad input fails before any AWS call.

Private to the collection: no stable API.
"""

from __future__ import annotations

import re

from ansible_collections.keyless.aws.plugins.module_utils.aws import rules

# arn:partition:service:region:account-id:resource ; partitions: aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, ...
_ARN = re.compile(r"^arn:(?P<partition>aws(?:-[a-z]+)*):(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):"
                  r"(?P<account_id>[0-9]{12}|aws|):(?P<resource>.+)$")


def parse_arn(arn):
    """An ARN -> {partition, service, region, account_id, resource, resource_type, resource_id, path, name};
    None when it is not an ARN. For `role/app/web` resource_type is "role", path "/app/", name "web"."""
    if not isinstance(arn, str):
        return None
    match = _ARN.match(arn)
    if not match:
        return None
    out = match.groupdict()
    resource = out["resource"]
    sep = re.search(r"[/:]", resource)
    if sep:
        out["resource_type"] = resource[:sep.start()]
        out["resource_id"] = resource[sep.end():]
    else:
        out["resource_type"] = None
        out["resource_id"] = resource
    parts = out["resource_id"].split("/")
    out["name"] = parts[-1]
    out["path"] = "/" + "".join(p + "/" for p in parts[:-1])
    return out


def validate_arn(value, option, service=None, resource_type=None):
    """An error message naming option and value, or None when `value` is a well-formed ARN
    (of `service` and `resource_type` when given)."""
    resource = (resource_type + "/<name>") if resource_type else "<resource>"
    expected = "arn:<partition>:%s:<region>:<account>:%s" % (service or "<service>", resource)
    parsed = parse_arn(value)
    if parsed is None:
        return "%s=%r is not a valid ARN: expected %s" % (option, value, expected)
    if service and parsed["service"] != service:
        return "%s=%r is an ARN of service %r: expected %s" % (option, value, parsed["service"], expected)
    if resource_type and (parsed["resource_type"] != resource_type or not parsed["name"]):
        return "%s=%r is not a %s ARN: expected %s" % (option, value, resource_type, expected)
    return None


def validate_iam_name(value, option, max_len=64):
    """None when `value` is a valid IAM name (1..max_len of letters, digits and + = , . @ _ -)."""
    if not isinstance(value, str) or not value:
        return "%s=%r is empty: give a name of 1-%d characters" % (option, value, max_len)
    if len(value) > max_len:
        return "%s=%r is %d characters long: IAM allows at most %d" % (option, value, len(value), max_len)
    if not rules.IAM_NAME.match(value):
        bad = "".join(sorted({c for c in value if not rules.IAM_NAME.match(c)}))
        return ("%s=%r contains %r: IAM names allow only letters, digits and + = , . @ _ -"
                % (option, value, bad))
    return None


def validate_iam_path(value, option):
    """None when `value` is a valid IAM path: "/" or "/segment/.../" (printable ASCII, max 512)."""
    if not rules.is_iam_path(value):
        return ("%s=%r is not a valid IAM path: it must start and end with '/', e.g. '/' or '/app/web/', "
                "use printable ASCII without spaces, and be at most 512 characters" % (option, value))
    if "//" in value:
        return "%s=%r contains an empty segment ('//'): use e.g. '/app/web/'" % (option, value)
    return None


def iam_arn(partition, account_id, resource_type, path, name):
    """The ARN IAM gives a role, instance-profile or policy: arn:<partition>:iam::<account>:<type><path><name>."""
    return "arn:%s:iam::%s:%s%s%s" % (partition, account_id, resource_type, path or "/", name)


def name_of(value):
    """The name in a name or an ARN (the last path segment: role/app/web -> web); None stays None."""
    if not value:
        return value
    parsed = parse_arn(value)
    return parsed["name"] if parsed else value.rsplit("/", 1)[-1]


def validate_name_or_arn(value, option, resource_type, max_len):
    """None when `value` is an IAM name of 1..max_len characters, or an IAM ARN of `resource_type`."""
    if isinstance(value, str) and value.startswith("arn:"):
        err = validate_arn(value, option, "iam", resource_type)
        if err is None and len(parse_arn(value)["name"]) > max_len:
            err = "%s=%r: the name in the ARN is longer than IAM's %d characters" % (option, value, max_len)
        return err
    return validate_iam_name(value, option, max_len)
