"""Every registered collector has its README and a sample config beside its module; the
README shows the sample as it is, and the sample passes `pantau check-config`."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from collectors import REGISTRY

# The secrets the samples name as ${ENV}: a sample never holds one literally.
SAMPLE_ENV = {"SNMP_COMMUNITY": "public", "SNMP_AUTH_PASSWORD": "auth-pass-1",
              "SNMP_PRIV_PASSWORD": "priv-pass-1", "SERVER_PASSWORD": "x",
              "MIKROTIK_PASSWORD": "x", "PORTAL_TOKEN": "Bearer x"}


def _beside(type_: str) -> tuple[Path, Path]:
    folder = Path(sys.modules[REGISTRY[type_].__module__].__file__ or "").parent
    own = folder / f"{type_}.md"
    return (own if own.exists() else folder / "README.md"), folder / f"{type_}.sample.yml"


def _body(sample: Path) -> str:
    lines = sample.read_text(encoding="utf-8").splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "".join(lines)


@pytest.mark.parametrize("type_", sorted(REGISTRY))
def test_readme_and_sample_beside_the_collector(type_: str) -> None:
    readme, sample = _beside(type_)
    assert readme.is_file(), f"{type_}: no README beside its module ({readme})"
    assert sample.is_file(), f"{type_}: no sample config beside its module ({sample})"
    text = readme.read_text(encoding="utf-8")
    assert f"]({sample.name})" in text, f"{readme} does not link {sample.name}"
    blocks = re.findall(r"```yaml\n(.*?)```\n", text, re.S)
    assert _body(sample) in blocks, f"{readme} does not show {sample.name} as it is"


@pytest.mark.parametrize("type_", sorted(REGISTRY))
def test_sample_passes_check_config(type_: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SAMPLE_ENV.items():
        monkeypatch.setenv(name, value)
    _, sample = _beside(type_)
    result = CliRunner().invoke(app, ["check-config", str(sample)])
    assert result.exit_code == 0, result.output
    assert "OK (site 'dpmptsp-kab-contoh'" in result.output
