"""fenced_blocks reads fences as CommonMark does (checked against markdown-it-py where it is installed)."""

from __future__ import annotations

import pytest

from tests.support.aws_env import ROOT
from tests.support.markdown_blocks import fenced_blocks

SAMPLE = """# Title

```yaml
a: 1
```

text with ``` inside a line

~~~~yml example-only: a fragment
b: 2
```
still inside: a shorter or other fence does not close it
~~~~

- a list item:

    ```yaml
    - hosts: localhost
      tasks: []
    ```

```bash
echo hi
```

````
```yaml
nested: not a block of its own
```
````
"""


def test_blocks_languages_options_bodies_lines():
    blocks = fenced_blocks(SAMPLE)
    assert [(b.language, b.options, b.line) for b in blocks] == [
        ("yaml", "", 3), ("yml", "example-only: a fragment", 9), ("yaml", "", 17), ("bash", "", 22), ("", "", 26)]
    assert blocks[0].body == "a: 1\n"
    assert blocks[1].body.splitlines()[-1] == "still inside: a shorter or other fence does not close it"
    assert blocks[2].body == "- hosts: localhost\n  tasks: []\n"  # the list item's indentation is removed
    assert "nested: not a block of its own" in blocks[4].body


def test_an_unclosed_block_runs_to_the_end():
    assert fenced_blocks("```yaml\na: 1\n")[0].body == "a: 1\n"


@pytest.mark.parametrize("doc", ["README.md", "roles/ec2_identity/README.md"])
def test_same_blocks_as_markdown_it(doc):
    markdown_it = pytest.importorskip("markdown_it")
    text = (ROOT / doc).read_text()
    theirs = [(t.info.strip(), t.content) for t in markdown_it.MarkdownIt("commonmark").parse(text) if t.type == "fence"]
    ours = [((b.language + " " + b.options).strip() if b.options else b.language, b.body) for b in fenced_blocks(text)]
    assert [(i.lower(), c) for i, c in ours] == [(i.lower(), c) for i, c in theirs]
