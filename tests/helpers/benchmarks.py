"""Writing a benchmark's figures into BENCHMARKS.md."""

from __future__ import annotations

from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "BENCHMARKS.md"


def replace_section(section: str, path: Path = BENCHMARKS) -> None:
    """Put `section` (starting with its "## " heading) in place of the section with the same
    heading, up to the next "## " heading, or append it when there is none yet: a rerun
    replaces the old figures instead of piling up."""
    heading = section.split("\n", 1)[0]
    text = path.read_text(encoding="utf-8")
    start = text.find(heading)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end:] if end >= 0 else "")
    path.write_text(text, encoding="utf-8")
