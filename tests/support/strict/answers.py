"""What the state behaviours share: XML answers rewritten in moto's namespace, windows that close at an AWS
time, and the query parameters of a Call (flat lists, filters)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from tests.support.strict.core import Answer

DEFAULT_ACCOUNT = "123456789012"  # moto's default account id


def account_of(call):
    return call.account or DEFAULT_ACCOUNT


def ok(answer):
    return 200 <= answer.status < 300


def list_param(params, prefix):
    """Values of a flat query list: AssociationId.1, AssociationId.2, ... -> [v1, v2] (in index order)."""
    found = []
    pattern = re.compile(r"^%s\.(\d+)$" % re.escape(prefix))
    for key, value in params.items():
        match = pattern.match(key)
        if match:
            found.append((int(match.group(1)), value))
    return [value for _index, value in sorted(found)]


def query_filters(params):
    """{filter name: [values]} of Filter.N.Name / Filter.N.Value.M query parameters."""
    names = {}
    values = {}
    pattern = re.compile(r"^Filter\.(\d+)\.(Name|Value\.(\d+))$")
    for key, value in params.items():
        match = pattern.match(key)
        if not match:
            continue
        index = int(match.group(1))
        if match.group(2) == "Name":
            names[index] = value
        else:
            values.setdefault(index, []).append((int(match.group(3)), value))
    result = {}
    for index, name in names.items():
        result.setdefault(name, []).extend(v for _i, v in sorted(values.get(index, [])))
    return result


class Xml:
    """An XML answer parsed with its namespace kept, so it is written back as moto wrote it."""

    def __init__(self, body):
        self.root = ET.fromstring(body)
        tag = self.root.tag
        self.ns = tag[1:tag.index("}")] if tag.startswith("{") else ""

    def q(self, path):
        """An ElementTree path in this answer's namespace: 'a/b' -> '{ns}a/{ns}b'."""
        if not self.ns:
            return path
        return "/".join("{%s}%s" % (self.ns, part) for part in path.split("/"))

    def find(self, node, path):
        return node.find(self.q(path))

    def findall(self, node, path):
        return node.findall(self.q(path))

    def text(self, node, path, default=""):
        found = node.find(self.q(path))
        return (found.text or default) if found is not None else default

    def set_text(self, node, path, value):
        found = node.find(self.q(path))
        if found is None:
            return False
        found.text = value
        return True

    def element(self, tag, text=None):
        element = ET.Element("{%s}%s" % (self.ns, tag) if self.ns else tag)
        element.text = text
        return element

    def dump(self):
        return ET.tostring(self.root, encoding="utf-8", xml_declaration=True,
                           default_namespace=self.ns or None)


def rewritten(answer, body):
    headers = [(k, v) for k, v in answer.headers if k.lower() != "content-length"]
    headers.append(("Content-Length", str(len(body))))
    return Answer(answer.status, headers, body)


class Windows:
    """Keys that stay 'open' until an AWS time; expired keys are forgotten as they are met."""

    def __init__(self):
        self.until = {}

    def open(self, key, until):
        self.until[key] = until

    def is_open(self, key, now):
        until = self.until.get(key)
        if until is None:
            return False
        if now >= until:
            del self.until[key]
            return False
        return True

    def clear(self):
        self.until.clear()
