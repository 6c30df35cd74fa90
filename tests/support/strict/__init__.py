"""The strict-AWS layer: WSGI middleware in front of moto that answers as AWS does where moto is lenient.

Every moto server of the suite (tests/support/moto_server.py: scenarios, integration targets, molecule,
demo, bench) serves through it, with every behaviour on by default. Moto stays the store; each behaviour
(one module per kind, listed at the end) refuses a request before moto sees it, or rewrites moto's answer, and cites the AWS source that
says AWS acts so. A test that needs moto's plain answers switches behaviours off one by one.

Interface (strict/core.py, shared by every behaviour module):

    Call        one parsed AWS request: service, action, region, access_key, account, params (flat query
                parameters, e.g. {"Filter.1.Name": "tag:Team", "Filter.1.Value.1": "a"}; the JSON object of a
                JSON-protocol request), body, json_protocol
    Answer      status, headers [(name, value)], body (bytes)
    error_answer(service, status, code, message, json_protocol=False) -> Answer in the service's error shape
    StrictClock .now() -> AWS seconds (real monotonic seconds x speed); .speed; .set_speed(x) (continuous)
    Behaviour   name (the switch), source (doc page / service model / provider file that says AWS does so)
                reset(); before(call, clock) -> Answer or None (None: forward); after(call, answer, clock)
                -> Answer (may rewrite what moto answered); params() / configure(**params) (the public
                scalar attributes by default, or the names in PARAMS); state() -> extra JSON for GET

`account` of a Call: the account learnt from the STS answers that passed through the layer (an AssumeRole
answer maps its AccessKeyId to the account of its assumed-role ARN; GetSessionToken / GetFederationToken
and IAM CreateAccessKey map the new key to the caller's account), else the access key itself (one key,
one account: moto's default account for every key it did not issue).

The middleware, StrictAws(app, behaviours=None, speed=10, enabled="all"), parses each signed request into a
Call, runs the `before` of each enabled behaviour in order (the first Answer is sent without forwarding, and
counted as refused by that behaviour), forwards to `app`, then runs the `after` of every enabled behaviour.
Unsigned requests, /_keyless/* and /moto-api/* pass through untouched; /moto-api/reset also resets every
behaviour (and the layer's stats and learnt keys).

Switches:
    KEYLESS_STRICT        "all" (default), "none", names to run only those ("rate_limit,filter_limit"),
                          or "-name" to switch one off ("-filter_limit,-rate_limit"), "+name" to add one
    KEYLESS_STRICT_SPEED  AWS seconds per real second (default 10 in tests; the bench sets 1)
    read by tests/support/moto_server.py when it builds the app (also its --strict / --strict-speed flags and
    MotoServer(strict=..., strict_speed=...)).
    GET  /_keyless/strict -> {"enabled", "available", "speed", "stats": {"refused": {behaviour: {action: n}},
         "rewritten": {...}}, "behaviours": {name: {"enabled", "source", "params", "state"}}}
    POST /_keyless/strict {"disable": [...], "enable": [...], "speed": x, "reset": true, "reset_stats": true,
         "<behaviour>": {params}} -> the same JSON ("all" in enable/disable means every behaviour)
    strict_config(url, **kw), strict_stats(url), strict_off(url, names=None) (a context manager),
    strict_restore(url, snapshot) (back to an earlier strict_stats()) for tests.

Why the tests run at speed 10: AWS's windows (IAM propagation, `associating`, `pending`) last seconds and its
mutating buckets refill 5 a second; at x10 a window is under a second and a mutating bucket refills 50 a
second (still below what moto serves, so bursts are throttled as on AWS), which keeps the suite within its
time while every behaviour stays observable. The bench runs at 1 (AWS's own clock) because its figures are
ratios to AWS's bound. Bucket capacities never scale (see RateLimit).

Test-side clients: html_5xx answers some first attempts with an HTML page that botocore cannot parse and does
not retry (ResponseParserError) in any retry mode. The harness's own clients (seeding, assertions) survive it
with retry_html_5xx(client) or, process-wide, harness_retries_html_5xx(); never install those in a process
whose product code is the subject of the test.

Where each part lives (every behaviour keeps its AWS source beside its code, in its `source` and docstring):
    core.py             the interface above and the parsing of a signed request into a Call
    middleware.py       StrictAws, the switches, the order the behaviours run in (default_behaviours)
    html_5xx.py         html_5xx, and the harness's retry of its pages (retry_html_5xx, harness_retries_html_5xx)
    rate_limit.py       rate_limit: EC2_RATE_LIMITS, TokenBucket, rate_limit_of, bound_seconds
    validation.py       filter_limit, sts_region
    iam_propagation.py  iam_propagation, ec2_profile_propagation, unique_id_arns (IAM's eventual consistency)
    ec2_windows.py      association_windows, metadata_pending (EC2 state that settles over time)
    answers.py          what the state behaviours share: XML answers in moto's namespace, windows, query lists
    client.py           strict_config, strict_stats, strict_restore, strict_off
"""

from tests.support.strict.answers import DEFAULT_ACCOUNT
from tests.support.strict.client import strict_config, strict_off, strict_restore, strict_stats
from tests.support.strict.core import (DEFAULT_SPEED, ENV_SPEED, ENV_SWITCHES, READ_PREFIXES, Answer, Behaviour, Call,
                                       StrictClock, assumed_key_account, draw, error_answer, is_mutating, issued_key,
                                       parse_call)
from tests.support.strict.ec2_windows import AssociationWindows, MetadataPending
from tests.support.strict.html_5xx import HTML_5XX_PAGE, Html5xx, harness_retries_html_5xx, retry_html_5xx
from tests.support.strict.iam_propagation import Ec2ProfilePropagation, IamPropagation, UniqueIdArns
from tests.support.strict.middleware import (STATE_BEHAVIOURS, StrictAws, default_behaviours, own_behaviours,
                                             parse_switches, settings_from_env)
from tests.support.strict.rate_limit import (CATEGORIES, EC2_RATE_LIMITS, UNFILTERED_SUFFIX, UNFILTERED_UNPAGINATED,
                                             RateLimit, TokenBucket, bound_seconds, category_of,
                                             is_unfiltered_unpaginated, rate_limit_of)
from tests.support.strict.validation import OPT_IN_REGIONS, FilterLimit, StsRegion

__all__ = [
    "DEFAULT_ACCOUNT", "DEFAULT_SPEED", "ENV_SPEED", "ENV_SWITCHES", "READ_PREFIXES", "CATEGORIES", "EC2_RATE_LIMITS",
    "UNFILTERED_SUFFIX", "UNFILTERED_UNPAGINATED", "HTML_5XX_PAGE", "OPT_IN_REGIONS", "STATE_BEHAVIOURS",
    "Answer", "Behaviour", "Call", "StrictClock", "StrictAws", "TokenBucket",
    "AssociationWindows", "Ec2ProfilePropagation", "FilterLimit", "Html5xx", "IamPropagation", "MetadataPending",
    "RateLimit", "StsRegion", "UniqueIdArns",
    "assumed_key_account", "bound_seconds", "category_of", "default_behaviours", "draw", "error_answer",
    "harness_retries_html_5xx", "is_mutating", "is_unfiltered_unpaginated", "issued_key", "own_behaviours",
    "parse_call", "parse_switches", "rate_limit_of", "retry_html_5xx", "settings_from_env", "strict_config",
    "strict_off", "strict_restore", "strict_stats",
]
