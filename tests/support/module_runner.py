"""Run a module's main() in-process (under moto's mock_aws or a Stubber) and return its result."""

from __future__ import annotations

import contextlib
import io
import json

from ansible.module_utils import _internal as module_internal
from ansible.module_utils.testing import patch_module_args

DEFAULT_CONN = {"region": "us-east-1", "access_key": "AKIAKEYLESSTESTFAKE1",
                "secret_key": "keylessFakeSecretKeyForTestsOnly0000000x"}


class ModuleResult(dict):
    @property
    def failed(self):
        return bool(self.get("failed"))

    @property
    def changed(self):
        return bool(self.get("changed"))


def run_module(main, args, check_mode=False, diff=False, connection=True):
    """Call `main()` with `args`; returns the JSON the module printed (exit_json or fail_json)."""
    args = dict(args)
    if connection:
        for key, value in DEFAULT_CONN.items():
            args.setdefault(key, value)
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    out = io.StringIO()
    # A module runs as a module even when a test in this process imported controller code (ansible.errors,
    # a filter plugin): ansible-core then sends module warnings to the controller's display, not the result.
    was_controller = module_internal.is_controller
    module_internal.is_controller = False
    try:
        with patch_module_args(args), contextlib.redirect_stdout(out):
            try:
                main()
            except SystemExit:
                pass
    finally:
        module_internal.is_controller = was_controller
    text = out.getvalue().strip()
    if not text:
        raise AssertionError("module printed nothing")
    return ModuleResult(json.loads(text.splitlines()[-1]))
