"""YAML for files a person wrote: bounded in size, nesting and alias expansion, and strict
about duplicate keys.

PyYAML alone keeps the last of two equal keys (a second `checks:` silently drops the first
list), recurses once per nesting level (a RecursionError traceback at ~1,000 levels), and
shares aliased nodes, so a "billion laughs" file is small until something walks it; pydantic
or a YAML dump then expands it into gigabytes. Every limit here ends in a yaml.MarkedYAMLError
with a one-line problem and the line it is on.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_BYTES = 2 << 20  # a config with thousands of checks is a few hundred KB
MAX_DEPTH = 64
MAX_NODES = 200_000  # scalars, sequences and mappings, counting every alias expansion


class YamlLimitError(yaml.MarkedYAMLError):
    """A file that is valid YAML but that pantau refuses to read."""


class _Loader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlLimitError(problem=f"nesting deeper than {MAX_DEPTH} levels",
                                     problem_mark=self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def too_big(size: int) -> str | None:
    if size > MAX_BYTES:
        return f"the file is {size} bytes; pantau reads at most {MAX_BYTES} ({MAX_BYTES >> 20} MiB)"
    return None


def compose_and_load(text: str) -> tuple[yaml.Node | None, Any]:
    """The composed tree (for line numbers) and the Python data, after every check."""
    size = len(text.encode("utf-8", "surrogatepass"))
    reason = too_big(size)
    if reason:
        raise YamlLimitError(problem=reason)
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        _check_tree(root)
        return root, loader.construct_document(root)
    finally:
        loader.dispose()


def safe_load(text: str) -> Any:
    return compose_and_load(text)[1]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for kv in node.value for n in kv]
    return []


def _check_tree(root: yaml.Node) -> None:
    """Duplicate keys, recursive aliases and the expanded size, without recursion."""
    size: dict[int, int] = {}
    expanding: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            expanding.discard(key)
            total = 1 + sum(size[id(c)] for c in _children(node))
            if total > MAX_NODES:
                raise YamlLimitError(
                    problem=f"aliases expand to more than {MAX_NODES} values",
                    problem_mark=node.start_mark)
            size[key] = total
            continue
        if key in size:
            continue
        if isinstance(node, yaml.MappingNode):
            _no_duplicate_keys(node)
        expanding.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in expanding:
                raise YamlLimitError(problem="an alias refers to the node that contains it",
                                     problem_mark=child.start_mark)
            if id(child) not in size:
                stack.append((child, False))


def _no_duplicate_keys(node: yaml.MappingNode) -> None:
    seen: dict[str, int] = {}
    for k, _ in node.value:
        if not isinstance(k, yaml.ScalarNode) or k.tag == "tag:yaml.org,2002:merge":
            continue
        line = k.start_mark.line + 1
        if k.value in seen:
            raise YamlLimitError(
                problem=f"duplicate key {k.value!r} (first on line {seen[k.value]})",
                problem_mark=k.start_mark)
        seen[k.value] = line
