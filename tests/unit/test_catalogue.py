"""docs/metrics.md must be exactly what the code declares."""

from __future__ import annotations

from pathlib import Path

from agent.catalogue import render_markdown
from agent.runtime import all_metric_specs

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_metric_catalogue_matches_code() -> None:
    expected = render_markdown(all_metric_specs())
    assert DOC.read_text() == expected, (
        "docs/metrics.md is stale: run `pantau metrics --markdown > docs/metrics.md`"
    )


def test_no_family_declared_twice_with_different_kinds() -> None:
    kinds: dict[str, str] = {}
    for spec in all_metric_specs():
        assert kinds.setdefault(spec.name, spec.kind) == spec.kind, spec.name


def test_no_instance_or_job_labels() -> None:
    for spec in all_metric_specs():
        assert not {"instance", "job", "site", "check"} & set(spec.labels), spec.name


def test_config_reference_matches_code() -> None:
    from agent.config.reference import render_reference

    doc = DOC.with_name("configuration.md")
    assert doc.read_text() == render_reference(), (
        "docs/configuration.md is stale: run `pantau config-reference > docs/configuration.md`"
    )
