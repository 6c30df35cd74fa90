"""The one retry helper: which answers it retries (and for how long), which it leaves to botocore, the waits."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.retries.standard import ThrottledRetryableChecker

from ansible_collections.keyless.aws.plugins.module_utils.aws import retries
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError


def client_error(code, message="x", operation="CreateRole"):
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class Scripted:
    """A client whose create_role answers from a script: exceptions are raised, anything else returned."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []

    def create_role(self, **kwargs):
        self.calls.append(kwargs)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_throttle_codes_are_botocores():
    """botocore's standard mode retries these; we treat the same set as throttling (and no other layer retries
    them): a botocore upgrade that adds a code fails this test until the set is updated."""
    assert set(ThrottledRetryableChecker._THROTTLED_ERROR_CODES) <= retries.THROTTLE_CODES  # pylint: disable=protected-access


def test_call_uses_the_operation_name_and_returns_the_answer(fake_time):
    client = Scripted({"Role": {"RoleName": "r"}})
    assert retries.call(client, "CreateRole", {"RoleName": "r"}) == {"Role": {"RoleName": "r"}}
    assert client.calls == [{"RoleName": "r"}] and fake_time.slept == []


def test_policy_codes_are_retried_with_backoff_until_success(fake_time):
    client = Scripted(client_error("NoSuchEntity"), client_error("ConcurrentModification"), "ok")
    assert retries.call(client, "CreateRole", retry=retries.IAM_NEW_ENTITY) == "ok"
    assert fake_time.slept == [1.0, 2.0]


def test_retries_stop_at_the_policy_timeout_and_phrase_the_error(fake_time):
    client = Scripted(*[client_error("ConcurrentModification", "busy")] * 50)
    with pytest.raises(AwsCallError) as err:
        retries.call(client, "CreateRole", retry=retries.IAM_SETTLING.within(10), resource="r")
    assert fake_time.now <= 10 and len(client.calls) == 4  # 1 + 2 + 4 s of pauses, the next 8 would pass 10 s
    assert err.value.text().startswith("CreateRole failed for r; ConcurrentModification: busy")


@pytest.mark.parametrize("answer", [client_error("AccessDenied"), client_error("Throttling"),
                                    client_error("RequestLimitExceeded"), client_error("InternalError")])
def test_other_answers_fail_at_once(fake_time, answer):
    """Throttling and 5xx are botocore's to retry (max_attempts); the helper never retries them again."""
    client = Scripted(answer, "ok")
    with pytest.raises(AwsCallError):
        retries.call(client, "CreateRole", retry=retries.IAM_NEW_ENTITY)
    assert len(client.calls) == 1 and fake_time.slept == []


def test_throttle_and_transient_failures_say_what_to_do():
    with pytest.raises(AwsCallError) as err:
        retries.call(Scripted(client_error("RequestLimitExceeded")), "CreateRole")
    assert "rate_limits" in err.value.hint
    with pytest.raises(AwsCallError) as err:
        retries.call(Scripted(client_error("InternalError")), "CreateRole")
    assert "rerun" in err.value.hint


def test_message_mark_narrows_a_code(fake_time):
    """InvalidParameterValue is propagation only with EC2's "Invalid IAM Instance Profile" text."""
    other = Scripted(client_error("InvalidParameterValue", "bad hop limit"), "ok")
    with pytest.raises(AwsCallError):
        retries.call(other, "CreateRole", retry=retries.PROFILE_PROPAGATION)
    propagating = Scripted(client_error("InvalidParameterValue", "Value (P) for parameter iamInstanceProfile.name is "
                                        "invalid. Invalid IAM Instance Profile name"), "ok")
    assert retries.call(propagating, "CreateRole", retry=retries.PROFILE_PROPAGATION) == "ok"


def test_retry_if_extends_a_policy(fake_time):
    seen = []
    client = Scripted(client_error("IncorrectState"), client_error("IncorrectState"), "ok")
    out = retries.retrying(client.create_role, retries.IAM_SETTLING, "CreateRole",
                           retry_if=lambda exc: seen.append(exc) or len(seen) < 3)
    assert out == "ok" and len(seen) == 2 and len(client.calls) == 3


def test_botocore_errors_become_aws_call_errors():
    with pytest.raises(AwsCallError) as err:
        retries.call(Scripted(EndpointConnectionError(endpoint_url="https://iam.amazonaws.com")), "CreateRole", resource="r")
    assert "EndpointConnectionError" in err.value.message and "endpoint_url" in err.value.hint


def test_paginate_collects_every_page():
    class Paged:
        def get_paginator(self, name):
            assert name == "list_roles"

            class P:
                def paginate(self, **kwargs):
                    assert kwargs == {"PathPrefix": "/app/"}
                    return iter([{"Roles": [1, 2]}, {"Roles": [3]}, {}])
            return P()
    assert retries.paginate(Paged(), "ListRoles", "Roles", {"PathPrefix": "/app/"}) == [1, 2, 3]


def test_wait_consecutive_restarts_the_count(fake_time):
    reads = iter([True, True, False, True, True, True])
    assert retries.wait_consecutive(lambda: next(reads), bool, 3, 60) is True
    assert len(fake_time.slept) == 5


def test_wait_consecutive_times_out(fake_time):
    with pytest.raises(AwsCallError) as err:
        retries.wait_consecutive(lambda: False, bool, 3, 5, what="profile P", operation="GetInstanceProfile")
    assert err.value.code == "WaiterTimeout" and "profile P was not ready on 3 reads in a row within 5s" in str(err.value)
    assert fake_time.now <= 5


def test_a_throttle_says_whether_the_retry_quota_or_max_attempts_ran_out():
    """botocore's standard mode stops retrying once a client's retry quota is spent (RetryQuotaReached), after ONE
    attempt whatever max_attempts says: the message must not blame max_attempts for that."""
    def throttled(**meta):
        return ClientError({"Error": {"Code": "RequestLimitExceeded", "Message": "Request limit exceeded."},
                            "ResponseMetadata": meta}, "ReplaceIamInstanceProfileAssociation")
    with pytest.raises(AwsCallError) as err:
        retries.call(Scripted(throttled(RetryAttempts=0, RetryQuotaReached=True)), "CreateRole")
    assert "retry quota" in err.value.hint and "max_attempts" not in err.value.hint
    with pytest.raises(AwsCallError) as err:
        retries.call(Scripted(throttled(RetryAttempts=9, MaxAttemptsReached=True)), "CreateRole")
    assert "max_attempts" in err.value.hint and "quota" not in err.value.hint
