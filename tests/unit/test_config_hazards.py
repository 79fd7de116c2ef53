"""Bad YAML of every kind ends in a clear error (exit 2, one line per problem, no traceback)
within bounded time and memory, and a seeded fuzz over a full config never finds a
traceback."""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from agent.config import AgentConfig, ConfigError, dump_config, parse_config
from tests.helpers.agent import PANTAU

CASES = Path(__file__).resolve().parents[1] / "testdata" / "invalid-configs"
MAX_SECONDS = 20.0  # a bound (134 s before), with room for a loaded 2-core CI box
MAX_RSS_MB = 150

FULL = """\
site: kantor-fuzz
listen: 127.0.0.1:9877
state_dir: /tmp/pantau-fuzz-state
host:
  interval: 15s
  timeout: 10s
checks:
  - name: gateway
    type: icmp
    target: 192.0.2.1
    interval: 15s
    timeout: 5s
    labels: &common
      kabupaten: contoh
  - name: dns
    type: dns
    target: 10.0.0.53
    query_name: oss.go.id
    depends_on: [gateway]
    labels: *common
  - name: portal
    type: http
    target: https://oss.go.id/
    valid_status_codes: [200, "3xx"]
    headers:
      Authorization: Bearer abc
    depends_on: [dns]
  - name: smtp
    type: tcp
    target: mail.example.go.id:587
    expect: "^220"
probe_modules:
  portal:
    type: http
    timeout: 5s
    targets: ["*.go.id", "10.9.0.0/24"]
    options:
      valid_status_codes: ["2xx"]
  ping:
    type: icmp
    targets: ["10.0.0.0/8"]
alerts:
  language: id
  damping: {failures: 3, successes: 2}
  receivers:
    - name: am
      type: alertmanager
      url: http://127.0.0.1:9093
    - name: hook
      type: webhook
      url: https://hooks.example/T000/B000/XXXX
      headers: {X-Token: rahasia}
reports:
  monthly: true
"""

TOKENS = ["", "-", "- x", "[", "]", "{", "}", "&a", "*a", "*nope", "!!python/object:os.system",
          "!!binary aGVsbG8=", "~", "null", "-1", "0", "1e999", "0x10", "9xx", "'", '"', ":",
          "? x", "<<: *common", "x: &b [*b]", "\t", "\\u0000", "%TAG ! x", "---", "...",
          "yes", "999999999999999999999", "a" * 300, "@", "`", "|", ">", "#"]


def _mutate(rng: random.Random, text: str) -> str:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(lines))
        op = rng.randrange(7)
        if op == 0:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[rng.randrange(len(lines))])  # duplicates keys too
        elif op == 2:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == 3:
            lines[i] = " " * rng.randint(0, 3) + lines[i]
        elif op == 4 and ":" in lines[i]:
            key = lines[i].split(":", 1)[0]
            lines[i] = f"{key}: {rng.choice(TOKENS)}"
        elif op == 5:
            pos = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:pos] + rng.choice(TOKENS) + lines[i][pos:]
        else:
            lines = lines[:i]
        if not lines:
            lines = [rng.choice(TOKENS)]
    return "\n".join(lines) + "\n"


def test_full_config_is_valid() -> None:
    assert isinstance(parse_config(FULL), AgentConfig)


def test_fuzz_loader_never_tracebacks(tmp_path: Path) -> None:
    rng = random.Random(1313)
    started = time.monotonic()
    invalid: list[str] = []
    for _ in range(400):
        text = _mutate(rng, FULL)
        try:
            cfg = parse_config(text, "fuzz.yml")
        except ConfigError as e:
            assert e.issues, text
            for issue in e.issues:
                line = str(issue)
                assert line.strip() and "\n" not in line, (text, line)
                assert "Traceback" not in line
            invalid.append(text)
        else:
            dump_config(cfg)  # --print-config of whatever was accepted
    assert time.monotonic() - started < 40
    assert len(invalid) > 100  # the mutations do produce bad files
    # a sample through the real command: exit 2, one line per error, never a traceback
    for k, text in enumerate(invalid[:12]):
        f = tmp_path / f"m{k}.yml"
        f.write_text(text)
        r = subprocess.run([str(PANTAU), "check-config", str(f)], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (text, r.stderr)
        assert r.stderr.splitlines()[0].startswith(f"{f}: ")


# A small launcher between pytest and pantau: a child forked from pytest starts with pytest's
# resident pages and ru_maxrss keeps that high-water mark across exec, so pytest's own size
# (150 MB late in the suite) would be measured instead of pantau's. The launcher is small; its
# child is pantau alone, and RUSAGE_CHILDREN gives that child's peak.
_LAUNCHER = (
    "import resource, subprocess, sys\n"
    "r = subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL)\n"
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(r.returncode)\n"
)


def _run_measured(*args: str) -> tuple[int, str, float, float]:
    """Exit code, stderr, seconds and peak RSS (MB) of one `pantau` run."""
    with tempfile.TemporaryDirectory() as tmp:
        peak_file = Path(tmp) / "peak"
        started = time.monotonic()
        r = subprocess.run([sys.executable, "-c", _LAUNCHER, str(peak_file), str(PANTAU),
                            *args], capture_output=True, text=True, timeout=60)
        seconds = time.monotonic() - started
        peak_kib = int(peak_file.read_text())
    return r.returncode, r.stderr, seconds, peak_kib / 1024


@pytest.fixture(scope="module")
def huge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    f = tmp_path_factory.mktemp("huge") / "huge.yml"
    entry = "  - name: c{}\n    type: tcp\n    target: 10.0.0.1:80\n"
    with f.open("w") as out:
        out.write("site: kantor\nchecks:\n")
        i = 0
        while out.tell() < 50 << 20:
            out.write("".join(entry.format(i + k) for k in range(1000)))
            i += 1000
    return f


@pytest.mark.parametrize("command", [["check-config"], ["run", "--print-config", "-c"]])
@pytest.mark.parametrize("name", ["duplicate-key", "deep-nesting-flow", "deep-nesting-block",
                                  "alias-bomb", "alias-recursive", "huge"])
def test_yaml_hazards_bounded(name: str, command: list[str], huge: Path) -> None:
    path = huge if name == "huge" else CASES / f"{name}.yml"
    code, err, seconds, rss = _run_measured(*command, str(path))
    assert code == 2, err[-500:]
    assert "Traceback" not in err and "Error:" not in err.split(":", 1)[0]
    lines = err.strip().splitlines()
    assert len(lines) == 2 and lines[0] == f"{path}: 1 error(s)", err[-500:]
    assert seconds < MAX_SECONDS and rss < MAX_RSS_MB, (seconds, rss)
