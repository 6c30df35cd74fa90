"""Fenced code blocks of a Markdown file, as CommonMark reads them, so tests run the docs' own examples.

    fenced_blocks(text) -> [Block(language, options, body, line), ...]

A fence is a line of at least three backticks or tildes, indented by at most three spaces (more inside a
list item: the item's indentation is removed from the block's lines, as CommonMark does). The info string
after it gives the language (its first word, lower-cased) and options (the rest, stripped): ```yaml
example-only: a fragment of a larger file -> language "yaml", options "example-only: a fragment ...". The
block ends at a line of the same character, at least as long, with nothing after it; an unclosed block
runs to the end of the file. `line` is the 1-based line of the opening fence.
"""

from __future__ import annotations

import collections
import re

Block = collections.namedtuple("Block", "language options body line")
_OPEN = re.compile(r"^(?P<indent>[ ]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


def fenced_blocks(text):
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = _OPEN.match(lines[i])
        if not match or (match.group("fence")[0] == "`" and "`" in match.group("info")):
            i += 1
            continue
        indent, fence, info = len(match.group("indent")), match.group("fence"), match.group("info").strip()
        close = re.compile(r"^[ ]{0,%d}%s{%d,}[ \t]*$" % (indent + 3, re.escape(fence[0]), len(fence)))
        body, start = [], i + 1
        i += 1
        while i < len(lines) and not close.match(lines[i]):
            line = lines[i]
            strip = len(line) - len(line.lstrip(" "))
            body.append(line[min(strip, indent):])
            i += 1
        i += 1  # the closing fence
        language, _sep, options = info.partition(" ")
        blocks.append(Block(language.lower(), options.strip(), "\n".join(body) + ("\n" if body else ""), start))
    return blocks
