# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change and Plan: what a module will do, computed without I/O, so check mode and diff tell the truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Change:
    """One mutating call the module intends to make.

    action: short verb for reports ("create_role", "attach_policy", ...).
    target: the resource it touches (name, ARN, instance id).
    params: the arguments apply() needs; never shown to users if they may hold secrets.
    """
    action: str
    target: str
    params: dict = field(default_factory=dict)
    before: Any = None
    after: Any = None

    def as_dict(self):
        return {"action": self.action, "target": self.target, "before": self.before, "after": self.after}


@dataclass
class Plan:
    changes: list = field(default_factory=list)

    def add(self, action, target, params=None, before=None, after=None):
        self.changes.append(Change(action, target, params or {}, before, after))
        return self

    def extend(self, changes):
        self.changes.extend(changes)
        return self

    @property
    def changed(self):
        return bool(self.changes)

    def actions(self):
        return [c.action for c in self.changes]

    def as_list(self):
        return [c.as_dict() for c in self.changes]

    def __iter__(self):
        return iter(self.changes)

    def __len__(self):
        return len(self.changes)


def diff(before, after):
    """The `diff` return value Ansible prints with --diff."""
    return {"before": before if before is not None else {}, "after": after if after is not None else {}}
