"""Clients of a running layer (tests, bench): its control endpoint POST/GET /_keyless/strict."""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request


def strict_config(url, **settings):
    """POST /_keyless/strict: e.g. strict_config(url, disable=["html_5xx"], speed=1,
    rate_limit={"limits": {"DescribeInstances": [100, 20]}}). Returns the layer's state (as strict_stats)."""
    req = urllib.request.Request(url.rstrip("/") + "/_keyless/strict", data=json.dumps(settings).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        raise ValueError("strict layer refused %s: %s" % (settings, detail)) from exc


def strict_stats(url):
    """GET /_keyless/strict: enabled behaviours, speed, refusals per behaviour and action, each one's state."""
    with urllib.request.urlopen(url.rstrip("/") + "/_keyless/strict", timeout=60) as resp:
        return json.loads(resp.read())


def strict_restore(url, snapshot):
    """Put a layer back as `snapshot` (an earlier strict_stats() answer) had it: switches, speed, every parameter."""
    params = {name: b["params"] for name, b in snapshot["behaviours"].items()}
    return strict_config(url, disable="all", enable=snapshot["enabled"], speed=snapshot["speed"], **params)


@contextlib.contextmanager
def strict_off(url, names=None):
    """Switch behaviours off (default: every one) for the block, then back on (only those that were on): for
    setup that is not the subject of a test (seeding a fleet). A server without the layer is left alone."""
    try:
        before = strict_stats(url)["enabled"]
    except (urllib.error.URLError, OSError, ValueError):
        yield []
        return
    off = [n for n in before if names is None or n in names]
    if off:
        strict_config(url, disable=off)
    try:
        yield off
    finally:
        if off:
            strict_config(url, enable=off)
