# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The thin frame every keyless.aws module uses: AWS options merged in, validation before any call."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.keyless.aws.plugins.module_utils.aws.connection import (
    AwsContext,
    aws_argument_spec,
    validate_connection,
)


def aws_module(argument_spec, **kwargs):
    """An AnsibleModule with the shared connection options; check mode on unless told otherwise."""
    spec = aws_argument_spec()
    spec.update(argument_spec)
    kwargs.setdefault("supports_check_mode", True)
    return AnsibleModule(argument_spec=spec, **kwargs)


def fail_on_errors(module, errors):
    """Fail once, listing every validation error, before any AWS call is made."""
    errors = [e for e in errors if e]
    if errors:
        module.fail_json(msg="invalid input: " + "; ".join(errors), errors=errors)


def context(module, validation_errors=(), **kwargs):
    """Validate the connection options (plus the module's own errors), then build the AwsContext."""
    fail_on_errors(module, list(validation_errors) + validate_connection(module.params))
    return AwsContext(module, **kwargs)
