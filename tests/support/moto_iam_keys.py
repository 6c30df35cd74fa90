"""IAM access keys where moto 5.2.6 lacks what AWS does and keyless.aws.iam_access_key(_info) relies on, registered by
tests/support/moto_server.fix_moto() (the moto server and in-process mock_aws alike), and the seeding helpers that
give a key a past (which a test cannot live through).

What moto 5.2.6 does like AWS: ListAccessKeys (NoSuchEntity for a user that does not exist), UpdateAccessKey,
DeleteAccessKey, TagUser / UntagUser / ListUserTags, GetAccessKeyLastUsed (ServiceName and Region "N/A" and no
LastUsedDate for a key never used), and every request signed with a user's key marks the key used (date, service,
region) as IAM does.

    fix_iam_keys()      what AWS does and moto does not:
        - a request signed with an Inactive key is refused: AWS answers HTTP 403 InvalidClientTokenId "The security
          token included in the request is invalid." (IAM User Guide, "Manage access keys for IAM users": an
          inactive key "can't be used" for API calls; UpdateAccessKey: "Inactive means that the key cannot be
          used"), and the refused call does not count as a use; moto serves it and marks the key used.
        - DescribeVpcEndpoints filters vpc-endpoint-id ("The ID of the endpoint", EC2 API reference,
          DescribeVpcEndpoints Filters) and vpc-id; moto 5.2.6 raises FilterNotImplementedError (HTTP 500) for them.

Seeding (never a product path; in-process: the suite's moto servers share this process's moto backends):
    set_key_history(access_key_id, created=None, last_used=None, service=None, region=None)
        CreateDate and the GetAccessKeyLastUsed answer of a key, as if it had been created / last used then.
    key_history(access_key_id) -> {created, last_used, service, region, status}     what the store holds
"""

from __future__ import annotations

_PATCHED = []


def _all_keys():
    from moto.iam.models import iam_backends
    for _account, partitions in list(iam_backends.items()):
        for _partition, backend in list(partitions.items()):
            yield from list(backend.access_keys.values())


def find_key(access_key_id):
    for key in _all_keys():
        if key.access_key_id == access_key_id:
            return key
    raise KeyError("no access key %s in moto's IAM" % access_key_id)


def refuse_inactive_keys():
    """Wrap moto's mark_account_as_visited (every request, before its action runs: moto/core/responses.py) so that
    a request signed with an Inactive key is answered 403 InvalidClientTokenId and not marked as a use."""
    import moto.iam.models as iam_models
    from moto.core.exceptions import InvalidClientTokenIdError

    original = iam_models.mark_account_as_visited

    def mark_account_as_visited(account_id, access_key, service, region):
        partition_backends = iam_models.iam_backends[account_id]
        for backend in list(partition_backends.values()):
            key = backend.access_keys.get(access_key)
            if key is not None and key.status == "Inactive":
                raise InvalidClientTokenIdError()
        return original(account_id, access_key, service, region)

    mark_account_as_visited.keyless_original = original
    iam_models.mark_account_as_visited = mark_account_as_visited


def filter_vpc_endpoints_by_id():
    """The vpc-endpoint-id and vpc-id filters of DescribeVpcEndpoints."""
    from moto.ec2.models.vpcs import VPCEndPoint

    original = VPCEndPoint.get_filter_value

    def get_filter_value(self, filter_name, method_name=None):
        if filter_name == "vpc-endpoint-id":
            return self.id
        if filter_name == "vpc-id":
            return self.vpc_id
        return original(self, filter_name, method_name)

    VPCEndPoint.get_filter_value = get_filter_value


def fix_iam_keys():
    if _PATCHED:
        return
    refuse_inactive_keys()
    filter_vpc_endpoints_by_id()
    _PATCHED.append(True)


def set_key_history(access_key_id, created=None, last_used=None, service=None, region=None):
    """Give a key a past: its CreateDate and its last use (datetime, aware or naive UTC). Seeding only."""
    from moto.iam.models import AccessKeyLastUsed
    key = find_key(access_key_id)
    if created is not None:
        key.create_date = created.replace(tzinfo=None) if created.tzinfo else created
    if last_used is not None:
        key.last_used = AccessKeyLastUsed(timestamp=last_used.replace(tzinfo=None) if last_used.tzinfo else last_used,
                                          service=service or "s3", region=region or "us-east-1")


def key_history(access_key_id):
    key = find_key(access_key_id)
    used = key.last_used
    return {"created": key.create_date, "status": key.status,
            "last_used": getattr(used, "timestamp", None), "service": getattr(used, "service", None),
            "region": getattr(used, "region", None)}
