# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet engine's front half: which instances a task selects, and what they look like now.

Private to the collection. Used by the fleet frame (ec2_profile_association, ec2_metadata_options,
ec2_instance_identity) and ec2_fleet_info:

    selector_argument_spec() -> dict
        instance_ids, filters, tags, states (default running+stopped), all_instances.
    validate_selector(params) -> list[str]
        Pure. Every problem as "option=value ...: what is allowed". Refuses an empty selector unless
        all_instances is true, and all_instances combined with other selectors.
    filter_value_count(params) -> int   the values the selector's filters and tags put in every call
    build_filters(params) -> list[{"Name": str, "Values": [str]}]
        EC2 filters of the selector (tags become tag:<key>); instance_ids are not in it (see chunks).
    observe_instances(ec2, params, page_size=1000) -> Selection
        Bulk DescribeInstances (1,000 instances a page; instance_ids as instance-id filters, chunked so that
        every call carries at most 200 filter values in all, the selector's own included). Selection.instances: {id: record} in the selected states;
        Selection.skipped: [record] selected but in another state (record["skip_reason"]);
        Selection.missing: [id] asked for by instance_ids but not found; Selection.calls: API calls made.
    instance_record(raw) -> dict
        A small record of one DescribeInstances instance: instance_id, state, name, profile_arn,
        profile_id (the profile's AIPA... id), metadata (MetadataOptions as returned), launch_template ({id, name,
        version} or None). Kept small so 10,000 instances fit in little memory.
    association_index(ec2, instance_ids, page_size=1000) -> dict[instance_id, association]
        The active IAM instance profile association of each given instance (association:
        {association_id, state, profile_arn}); instances without one are absent. Chunked instance-id
        filters for up to 1,000 instances, otherwise one paginated listing of every association.
        An instance's current profile is its active association: moto's DescribeInstances goes stale
        after a Replace, and AWS keeps `disassociated` associations listed for a while.
    index_associations(raw_associations, wanted=None) -> dict    (pure form of the above)
"""

from __future__ import annotations

import re

from ansible_collections.keyless.aws.plugins.module_utils.aws import rules
from ansible_collections.keyless.aws.plugins.module_utils.fleet.ownership import owner_of
from ansible_collections.keyless.aws.plugins.module_utils.fleet.associations import ASSOCIATION_RANK, better_association

INSTANCE_STATES = ("pending", "running", "stopping", "stopped", "shutting-down", "terminated")
DEFAULT_STATES = ["running", "stopped"]
PAGE_SIZE = 1000
# EC2 accepts at most 200 filter values in one Describe call, counted over every filter of the call
# (FilterLimitExceeded, "The maximum number of filter values specified on a single call is 200"): instance ids
# are chunked into what the selector's own filter values leave of that budget.
FILTER_VALUES_MAX = 200
# Up to this many instances, look associations up by instance-id filter; beyond, list them all.
ASSOCIATION_LOOKUP_MAX = 1000

FILTER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._*?/-]*$")

SKIP_REASONS = {
    "pending": "instance is pending (launching): converge it once it is running",
    "stopping": "instance is stopping: converge it once it is stopped",
    "shutting-down": "instance is shutting down (terminating)",
    "terminated": "instance is terminated",
    "running": "instance is running, which is not in the states option",
    "stopped": "instance is stopped, which is not in the states option",
}


def selector_argument_spec():
    """The selector options every fleet module accepts (documented in each module)."""
    return dict(
        instance_ids=dict(type="list", elements="str"),
        filters=dict(type="dict"),
        tags=dict(type="dict"),
        states=dict(type="list", elements="str", choices=list(INSTANCE_STATES), default=list(DEFAULT_STATES)),
        all_instances=dict(type="bool", default=False),
    )


def _values_error(option, key, value):
    if isinstance(value, (list, tuple)):
        if not value:
            return "%s[%r] is an empty list: give at least one value" % (option, key)
        bad = [v for v in value if isinstance(v, (dict, list, tuple)) or v is None]
        if bad:
            return "%s[%r]=%r: values must be strings (or a list of strings)" % (option, key, value)
        return None
    if isinstance(value, dict) or value is None:
        return "%s[%r]=%r: the value must be a string or a list of strings" % (option, key, value)
    return None


def validate_selector(params):
    """Pure checks of the selector options; returns a list of error messages (empty when valid)."""
    errors = []
    ids = params.get("instance_ids") or []
    bad_ids = [i for i in ids if not isinstance(i, str) or not rules.is_instance_id(i)]
    if bad_ids:
        errors.append("instance_ids has invalid ids %s: an instance id is i- followed by 8 to 17 hex digits "
                      "(e.g. i-0123456789abcdef0)" % ", ".join(repr(i) for i in bad_ids[:10]))
    filters = params.get("filters")
    if filters is not None and not isinstance(filters, dict):
        errors.append("filters=%r: must be a dict of EC2 filter name -> value or list of values" % (filters,))
        filters = None
    for key, value in (filters or {}).items():
        if not isinstance(key, str) or not FILTER_NAME_RE.match(key):
            errors.append("filters has an invalid filter name %r: use an EC2 DescribeInstances filter name such "
                          "as instance-type, subnet-id or tag:Team" % (key,))
            continue
        err = _values_error("filters", key, value)
        if err:
            errors.append(err)
    tags = params.get("tags")
    if tags is not None and not isinstance(tags, dict):
        errors.append("tags=%r: must be a dict of tag key -> value or list of values" % (tags,))
        tags = None
    for key, value in (tags or {}).items():
        if not isinstance(key, str) or not key or len(key) > 128:
            errors.append("tags has an invalid tag key %r: a tag key is 1 to 128 characters" % (key,))
            continue
        err = _values_error("tags", key, value)
        if err:
            errors.append(err)
    states = params.get("states")
    if states is not None:
        bad = [s for s in states if s not in INSTANCE_STATES]
        if bad:
            errors.append("states has %s: choose from %s" % (", ".join(repr(s) for s in bad), ", ".join(INSTANCE_STATES)))
        elif not states:
            errors.append("states=[] selects nothing: give at least one of %s" % ", ".join(INSTANCE_STATES))
    values = filter_value_count(params) if filters is not None or tags is not None else 0
    budget = FILTER_VALUES_MAX - (1 if ids else 0)
    if values > budget:
        errors.append("filters and tags give %d values: EC2 takes at most %d filter values in one call%s; select "
                      "with fewer values (e.g. a tag that all these instances share)"
                      % (values, FILTER_VALUES_MAX, " (and instance_ids need at least one)" if ids else ""))
    has_selector = bool(ids or filters or tags)
    if params.get("all_instances"):
        if has_selector:
            errors.append("all_instances=true selects every instance in the region: do not combine it with "
                          "instance_ids, filters or tags (drop all_instances to select by those)")
    elif not has_selector:
        errors.append("the selector is empty: give instance_ids, filters or tags, or set all_instances=true to "
                      "act on every instance in the region")
    return errors


def _as_values(value):
    if isinstance(value, (list, tuple)):
        return [_scalar(v) for v in value]
    return [_scalar(value)]


def _scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def filter_value_count(params):
    """How many filter values the selector's filters and tags put in every Describe call."""
    count = 0
    for option in ("filters", "tags"):
        value = params.get(option)
        if isinstance(value, dict):
            count += sum(len(v) if isinstance(v, (list, tuple)) else 1 for v in value.values())
    return count


def build_filters(params):
    """EC2 Filters for the selector's filters and tags (instance_ids are chunked separately)."""
    filters = []
    for key, value in sorted((params.get("filters") or {}).items()):
        filters.append({"Name": key, "Values": _as_values(value)})
    for key, value in sorted((params.get("tags") or {}).items()):
        filters.append({"Name": "tag:%s" % key, "Values": _as_values(value)})
    return filters


def chunks(items, size):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _launch_template(tags):
    lt_id = tags.get("aws:ec2launchtemplate:id")
    if not lt_id:
        return None
    return {"id": lt_id, "name": tags.get("aws:ec2launchtemplate:name"),
            "version": tags.get("aws:ec2launchtemplate:version")}


def instance_record(raw):
    """A small dict of what the fleet modules need from one DescribeInstances instance."""
    tags = {t.get("Key"): t.get("Value") for t in raw.get("Tags") or ()}
    profile = raw.get("IamInstanceProfile") or {}
    return {
        "instance_id": raw["InstanceId"],
        "state": (raw.get("State") or {}).get("Name"),
        "name": tags.get("Name"),
        "profile_arn": profile.get("Arn"),
        "profile_id": profile.get("Id"),  # the profile's unique id (AIPA...), not an association id
        "metadata": dict(raw.get("MetadataOptions") or {}),
        "launch_template": _launch_template(tags),
        "owner": owner_of(tags),  # the service that launched it and relaunches it (ownership.py), or None
    }


class Selection:
    """What observe_instances found: selected instances, skipped ones, missing ids, calls made."""

    def __init__(self):
        self.instances = {}
        self.skipped = []
        self.missing = []
        self.calls = 0

    def __len__(self):
        return len(self.instances)


def describe_pages(ec2, filters, page_size=PAGE_SIZE):
    """Yield raw instances of every DescribeInstances page for these filters (botocore's paginator,
    page_size instances a page), with a None marker before each page so callers can count calls."""
    kwargs = {"PaginationConfig": {"PageSize": page_size}}
    if filters:
        kwargs["Filters"] = filters
    for page in ec2.get_paginator("describe_instances").paginate(**kwargs):
        yield None
        for reservation in page.get("Reservations") or ():
            yield from reservation.get("Instances") or ()


def describe_instances(ec2, filters, instance_ids=None, page_size=PAGE_SIZE):
    """(records, calls): every instance matching filters (and instance_ids, chunked into what the filters' own
    values leave of the 200 values a call may carry), as small records."""
    records = {}
    calls = 0
    if instance_ids:
        room = FILTER_VALUES_MAX - sum(len(f["Values"]) for f in filters)
        if room < 1:
            raise ValueError("the filters carry %d values: no room for instance ids in one call (at most %d)"
                             % (FILTER_VALUES_MAX - room, FILTER_VALUES_MAX))
        batches = [filters + [{"Name": "instance-id", "Values": chunk}]
                   for chunk in chunks(sorted(set(instance_ids)), room)]
    else:
        batches = [filters]
    for batch in batches:
        for raw in describe_pages(ec2, batch, page_size):
            if raw is None:
                calls += 1
                continue
            rec = instance_record(raw)
            records[rec["instance_id"]] = rec
    return records, calls


def observe_instances(ec2, params, page_size=PAGE_SIZE):
    """Describe the selected instances in bulk and split them by the states option (see module doc)."""
    selection = Selection()
    states = params.get("states") or DEFAULT_STATES
    ids = params.get("instance_ids") or []
    records, selection.calls = describe_instances(ec2, build_filters(params), ids, page_size)
    for iid in sorted(records):
        rec = records[iid]
        if rec["state"] in states:
            selection.instances[iid] = rec
        else:
            rec["skip_reason"] = SKIP_REASONS.get(rec["state"], "instance is %s" % rec["state"])
            selection.skipped.append(rec)
    selection.missing = sorted(set(ids) - set(records))
    return selection


def index_associations(raw_associations, wanted=None):
    """Pure: {instance_id: active association} from DescribeIamInstanceProfileAssociations items."""
    index = {}
    for raw in raw_associations:
        iid = raw.get("InstanceId")
        state = raw.get("State")
        if state not in ASSOCIATION_RANK or (wanted is not None and iid not in wanted):
            continue
        assoc = {"association_id": raw.get("AssociationId"), "state": state,
                 "profile_arn": (raw.get("IamInstanceProfile") or {}).get("Arn")}
        if better_association(assoc, index.get(iid)):
            index[iid] = assoc
    return index


def describe_associations(ec2, filters=None, page_size=PAGE_SIZE):
    """(raw associations, calls) of one paginated DescribeIamInstanceProfileAssociations."""
    items = []
    calls = 0
    kwargs = {"PaginationConfig": {"PageSize": page_size}}
    if filters:
        kwargs["Filters"] = filters
    for page in ec2.get_paginator("describe_iam_instance_profile_associations").paginate(**kwargs):
        calls += 1
        items.extend(page.get("IamInstanceProfileAssociations") or ())
    return items, calls


def association_index(ec2, instance_ids, page_size=PAGE_SIZE):
    """The active association of each instance in instance_ids (see module doc)."""
    wanted = set(instance_ids)
    raw, calls = [], 0
    if not wanted:
        pass
    elif len(wanted) <= ASSOCIATION_LOOKUP_MAX:
        for chunk in chunks(sorted(wanted), FILTER_VALUES_MAX):
            items, n = describe_associations(ec2, [{"Name": "instance-id", "Values": chunk}], page_size)
            raw.extend(items)
            calls += n
    else:
        raw, calls = describe_associations(ec2, None, page_size)
    return index_associations(raw, wanted)
