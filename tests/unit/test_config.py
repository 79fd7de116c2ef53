"""Config validation: every invalid file in tests/testdata/invalid-configs gives exactly the
errors written in its .expected file, through `pantau check-config` run in process (the
subprocess path, console script included, keeps its smoke tests below)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.config import AgentConfig, ConfigError, parse_config
from collectors.config import format_duration, parse_duration
from tests.helpers.agent import run_cli

CASES = Path(__file__).resolve().parents[1] / "testdata" / "invalid-configs"


def _cases() -> list[Path]:
    return sorted(CASES.glob("*.yml"))


def test_cases_exist() -> None:
    assert len(_cases()) >= 12
    for case in _cases():
        assert case.with_suffix(".expected").exists(), f"{case.name} has no .expected file"


@pytest.mark.parametrize("case", _cases(), ids=lambda p: p.stem)
def test_invalid_config_exact_errors(case: Path) -> None:
    expected = case.with_suffix(".expected").read_text().strip()
    r = CliRunner().invoke(app, ["check-config", str(case)])
    assert r.exit_code == 2, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert "Traceback" not in r.stderr
    # the first line names the file; the rest are the errors, one per line
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith(f"{case}:")
    assert "\n".join(line.strip() for line in lines[1:]) == expected


def test_valid_config_ok(tmp_path: Path) -> None:
    f = tmp_path / "ok.yml"
    f.write_text(
        "site: kantor-dpmptsp\n"
        "checks:\n"
        "  - {name: uplink, type: tcp, target: '127.0.0.1:1', interval: 30s, timeout: 2s}\n"
        "  - {name: portal, type: tcp, target: '127.0.0.1:2', depends_on: [uplink]}\n"
    )
    r = run_cli("check-config", str(f))
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout and "2 checks" in r.stdout


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    r = run_cli("check-config", str(tmp_path / "nope.yml"))
    assert r.returncode == 2
    assert "file not found" in r.stderr and "Traceback" not in r.stderr


def test_errors_are_all_reported_at_once() -> None:
    text = "site: ''\nlisten: nope\nmax_concurrency: 0\n"
    with pytest.raises(ConfigError) as e:
        parse_config(text)
    paths = {i.path for i in e.value.issues}
    assert paths == {"site", "listen", "max_concurrency"}
    lines = {i.path: i.line for i in e.value.issues}
    assert lines == {"site": 1, "listen": 2, "max_concurrency": 3}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15s", 15.0), ("1m", 60.0), ("500ms", 0.5), ("1.5h", 5400.0), (30, 30.0), ("2d", 172800.0)],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["15 seconds", "-1s", "0s", "", "1w", True, None])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_duration_round_trip() -> None:
    for s in (15.0, 60.0, 0.5, 3600.0, 90.0):
        assert parse_duration(format_duration(s)) == s


def test_print_config_round_trips(tmp_path: Path) -> None:
    """`pantau run --print-config` output is a config that validates to the same thing."""
    r = run_cli("run", "--print-config")
    assert r.returncode == 0, r.stderr
    first = parse_config(r.stdout)
    f = tmp_path / "saved.yml"
    f.write_text(r.stdout)
    again = run_cli("check-config", str(f))
    assert again.returncode == 0, again.stderr
    assert isinstance(first, AgentConfig) and first.site


def test_secret_from_env_and_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import TypeAdapter

    from collectors.config import Secret

    monkeypatch.setenv("PANTAU_TEST_SECRET", "s3cr3t-value")
    ta: TypeAdapter[object] = TypeAdapter(Secret)
    value = ta.validate_python("${PANTAU_TEST_SECRET}")
    assert value.get_secret_value() == "s3cr3t-value"  # type: ignore[attr-defined]
    assert "s3cr3t" not in repr(value) and "s3cr3t" not in str(value)
    monkeypatch.delenv("PANTAU_TEST_SECRET")
    with pytest.raises(ValueError, match="PANTAU_TEST_SECRET is not set"):
        ta.validate_python("${PANTAU_TEST_SECRET}")
