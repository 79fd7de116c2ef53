"""README's Layout section is a map of the tree: every package and module it names exists,
and every package of the product appears in it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOP = ("agent", "collectors", "exporters", "playbooks")


def _layout() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("## Layout", 1)[1].split("\n## ", 1)[0]


def _entries() -> list[tuple[str, list[str]]]:
    """(package path, module names written beside or under it) from the indented tree."""
    entries: dict[str, list[str]] = {}
    stack: list[tuple[int, str]] = []
    current = ""
    for line in _layout().splitlines():
        if not line.startswith("    ") or not line.strip():
            continue  # only the indented tree, not the prose around it
        indent = len(line) - len(line.lstrip(" "))
        head = line.split()[0]
        modules = re.findall(r"\b([a-z0-9_]+\.py)\b", line)
        if indent < 24 and head.endswith("/"):  # a package line
            while stack and stack[-1][0] >= indent:
                stack.pop()
            current = (stack[-1][1] if stack else "") + head
            stack.append((indent, current))
        elif indent < 24 and head.endswith(".py"):  # module lines of the enclosing package
            while stack and stack[-1][0] >= indent:
                stack.pop()
            current = stack[-1][1] if stack else ""
        entries.setdefault(current.rstrip("/"), []).extend(modules)
    return list(entries.items())


def test_every_named_package_and_module_exists() -> None:
    entries = _entries()
    assert len(entries) >= 15
    for path, modules in entries:
        assert (ROOT / path).is_dir(), f"README Layout names {path}/, which does not exist"
        for module in modules:
            assert (ROOT / path / module).is_file(), f"README Layout: {path}/{module} is gone"


def test_every_package_is_on_the_map() -> None:
    listed = {path for path, _ in _entries()}
    packages = {str(init.parent.relative_to(ROOT)) for top in TOP
                for init in (ROOT / top).rglob("__init__.py")}
    assert packages - listed == set(), "packages missing from README's Layout"
