"""The textfile collector: good files, malformed ones (named with their line), files removed or
still growing while read, and an exposition `promtool check metrics` accepts."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from collectors.base import Context, Deadline, Sample
from collectors.host import HostCollector, HostConfig
from collectors.host.textfile import Textfile, TextfileError, parse_file
from exporters.exposition import Exposition

GOOD = """# HELP backup_last_success_timestamp_seconds When the last backup succeeded.
# TYPE backup_last_success_timestamp_seconds gauge
backup_last_success_timestamp_seconds{target="simpel-db"} 1.7961e+09
# TYPE backup_runs_total counter
backup_runs_total{target="simpel-db"} 42
backup_untyped_bytes 1024
# HELP backup_duration_seconds How long backups take.
# TYPE backup_duration_seconds histogram
backup_duration_seconds_bucket{le="60"} 3
backup_duration_seconds_bucket{le="+Inf"} 5
backup_duration_seconds_sum 400
backup_duration_seconds_count 5
"""


def by_key(samples: list[Sample]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, s.labels): s.value for s in samples}


def render(samples: list[Sample], specs: list) -> str:  # type: ignore[type-arg]
    exp = Exposition(HostCollector.METRICS)
    exp.declare(specs)
    exp.update("host", samples)
    exp.refresh()
    assert exp.undeclared_samples == 0
    return exp.body().decode()


def test_good_file(tmp_path: Path) -> None:
    (tmp_path / "backup.prom").write_text(GOOD)
    (tmp_path / "notes.txt").write_text("not a prom file\n")
    res = Textfile(tmp_path).read()
    assert res.errors == {}
    got = by_key(res.samples)
    assert got[("backup_runs_total", (("target", "simpel-db"),))] == 42
    assert got[("backup_duration_seconds_bucket", (("le", "+Inf"),))] == 5
    assert got[("node_textfile_scrape_error", ())] == 0.0
    mtime = (tmp_path / "backup.prom").stat().st_mtime_ns // 10**9
    assert got[("node_textfile_mtime_seconds", (("file", str(tmp_path / "backup.prom")),))] \
        == mtime
    kinds = {s.name: (s.kind, s.help) for s in res.specs}
    assert kinds["backup_runs_total"][0] == "counter"
    assert kinds["backup_duration_seconds"][0] == "histogram"
    # No HELP in the file: node_exporter's wording, naming the file.
    assert kinds["backup_untyped_bytes"] == ("untyped",
                                             f"Metric read from {tmp_path / 'backup.prom'}")
    text = render(res.samples, res.specs)
    assert "# TYPE backup_duration_seconds histogram\n" in text
    assert 'backup_duration_seconds_bucket{le="60"} 3\n' in text


def test_malformed_file_names_the_line_and_keeps_the_others(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "a_good.prom").write_text(GOOD)
    bad = tmp_path / "b_bad.prom"
    bad.write_text("ok_metric 1\nok_metric2 2\nbroken{a=b} 1\nafter 3\n")
    tf = Textfile(tmp_path)
    with caplog.at_level(logging.ERROR, logger="collectors.host.textfile"):
        res = tf.read()
        tf.read()  # the same problem is logged once, not every run
    assert list(res.errors) == [str(bad)]
    assert res.errors[str(bad)].startswith("line 3: ")
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 1 and str(bad) in logged[0] and "line 3" in logged[0]
    names = {s.name for s in res.samples}
    assert "ok_metric" not in names and "after" not in names  # the file is left out whole
    assert "backup_runs_total" in names
    assert by_key(res.samples)[("node_textfile_scrape_error", ())] == 1.0
    mtimes = {dict(s.labels)["file"] for s in res.samples
              if s.name == "node_textfile_mtime_seconds"}
    assert mtimes == {str(tmp_path / "a_good.prom")}


@pytest.mark.parametrize(("text", "expect"), [
    ("x 1 1700000000000\n", "timestamps"),
    ("x 1\nx 2\n", "appears twice"),
    ("node_cpu_seconds_total 1\n", "pantau itself exports"),
    ("pantau_check_up 1\n", "pantau itself exports"),
    ("x 1\ny 2", "line 2: incomplete last line"),
    ("x{a=\"1\"} notanumber\n", "line 1: ValueError"),
])
def test_unusable_files(text: str, expect: str) -> None:
    reserved = {m.name for m in HostCollector.METRICS}
    with pytest.raises(TextfileError, match=expect):
        parse_file("/x.prom", text, reserved)


def test_reserved_labels_are_renamed_as_prometheus_would() -> None:
    samples, _ = parse_file("/x.prom", 'backup_ok{job="nightly",instance="db1"} 1\n')
    assert samples[0].labels == (("exported_instance", "db1"), ("exported_job", "nightly"))


def test_same_series_in_two_files_keeps_the_first(tmp_path: Path) -> None:
    (tmp_path / "a.prom").write_text("x 1\n")
    (tmp_path / "b.prom").write_text("x 2\n")
    res = Textfile(tmp_path).read()
    assert by_key(res.samples)[("x", ())] == 1.0
    assert "appears twice" in res.errors[str(tmp_path / "b.prom")]


def test_file_removed_and_directory_missing(tmp_path: Path) -> None:
    f = tmp_path / "job.prom"
    f.write_text("job_ok 1\n")
    tf = Textfile(tmp_path)
    assert ("job_ok", ()) in by_key(tf.read().samples)
    f.unlink()
    res = tf.read()
    assert {s.name for s in res.samples} == {"node_textfile_scrape_error"}
    assert res.errors == {}
    shutil.rmtree(tmp_path)
    res = Textfile(tmp_path).read()
    assert by_key(res.samples)[("node_textfile_scrape_error", ())] == 1.0
    assert "cannot list directory" in res.errors[str(tmp_path)]


def test_file_growing_while_read(tmp_path: Path) -> None:
    """A writer appends while we read: each read is a whole prefix of lines or an error, never
    a truncated number presented as a value."""
    path = tmp_path / "growing.prom"
    path.write_text("")
    stop = threading.Event()

    def writer() -> None:
        # Unaligned small writes, so reads often land inside a line or a number.
        with path.open("a", buffering=1 << 20) as f:
            for i in range(4000):
                if stop.is_set():
                    return
                line = f"grow_{i} {i * 1000 + 999}\n"
                if i % 50 == 0:
                    f.write(line[:-3])  # the file now ends inside a number
                    f.flush()
                    stop.wait(0.001)
                    f.write(line[-3:])
                else:
                    f.write(line)
                if i % 5 == 0:
                    f.flush()  # the file now ends on a line boundary
                    stop.wait(0.001)

    t = threading.Thread(target=writer)
    t.start()
    tf = Textfile(tmp_path)
    ok = errors = 0
    try:
        while t.is_alive():
            res = tf.read()
            if res.errors:
                errors += 1
                (msg,) = res.errors.values()
                assert "incomplete last line" in msg or "changing" in msg, msg
                continue
            ok += 1
            values = {s.name: s.value for s in res.samples if s.name.startswith("grow_")}
            for name, v in values.items():
                assert v == int(name[5:]) * 1000 + 999, (name, v)  # never a cut-off number
            assert sorted(int(n[5:]) for n in values) == list(range(len(values)))
    finally:
        stop.set()
        t.join()
    assert tf.read().errors == {}  # complete once the writer is done
    assert ok >= 3 and errors >= 1, (ok, errors)
    print(f"growing file: {ok} consistent reads, {errors} reported as incomplete")


def test_host_collector_merges_textfiles_and_survives_bad_ones(tmp_path: Path) -> None:
    (tmp_path / "good.prom").write_text(GOOD)
    (tmp_path / "bad.prom").write_text("broken{\n")
    cfg = HostConfig(textfile_directory=tmp_path, collectors=["loadavg", "textfile"])
    obs = asyncio.run(HostCollector(cfg).collect(Context(Deadline(5), "s", "host")))
    assert obs.success, obs.reason  # a bad file is the file's problem, not a failed run
    names = {s.name for s in obs.samples}
    assert {"node_load1", "backup_runs_total", "node_textfile_scrape_error"} <= names
    assert "line 1" in obs.details["textfile_errors"][str(tmp_path / "bad.prom")]
    assert {s.name for s in obs.specs} >= {"backup_runs_total", "backup_duration_seconds"}
    ok = {dict(s.labels)["collector"]: s.value for s in obs.samples
          if s.name == "node_scrape_collector_success"}
    assert ok == {"loadavg": 1.0, "textfile": 1.0}  # node_exporter: 1 with a bad file too


def test_promtool_check_metrics_is_clean(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run tests/install-deps.sh"
    (tmp_path / "backup.prom").write_text(GOOD)
    cfg = HostConfig(textfile_directory=tmp_path)
    obs = asyncio.run(HostCollector(cfg).collect(Context(Deadline(10), "s", "host")))
    assert obs.success, obs.reason
    text = render(obs.samples, obs.specs)
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    # promtool also lints node_exporter's own names (netstat's CamelCase fields), which pantau
    # keeps on purpose; anything else (a parse error, the textfile families) is a failure.
    ne_names = {m.name for m in HostCollector.METRICS} - {"node_textfile_mtime_seconds",
                                                         "node_textfile_scrape_error"}
    lines = (r.stdout + r.stderr).splitlines()
    problems = [ln for ln in lines if ln.split()[0] not in ne_names]
    assert not problems, problems
    assert r.returncode in (0, 3), r  # 3: lint findings only, all of them listed above


def test_unchanged_bytes_are_not_parsed_again_and_read_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file is parsed only when its bytes change; a run over unchanged bytes gives the same
    samples, families, errors and exposition as the first (and a file rewritten with other
    bytes, or fixed, or removed, is read as such)."""
    import collectors.host.textfile as textfile

    good, bad = tmp_path / "good.prom", tmp_path / "bad.prom"
    good.write_text(GOOD)
    bad.write_text("broken{\n")
    parsed: list[str] = []
    real = textfile.parse_file

    def counting(path: str, text: str, reserved: object = ()) -> object:
        parsed.append(Path(path).name)
        return real(path, text, reserved)  # type: ignore[arg-type]

    monkeypatch.setattr(textfile, "parse_file", counting)
    tf = Textfile(tmp_path)
    first = tf.read()
    assert sorted(parsed) == ["bad.prom", "good.prom"]
    second = tf.read()
    assert sorted(parsed) == ["bad.prom", "good.prom"]  # neither parsed again
    assert second == first
    assert render(second.samples, second.specs) == render(first.samples, first.specs)
    assert "line 1" in second.errors[str(bad)]

    good.write_text(GOOD.replace(" 42\n", " 43\n"))  # same size, other bytes
    bad.write_text("fixed_now 1\n")
    third = tf.read()
    assert sorted(parsed[2:]) == ["bad.prom", "good.prom"]
    assert by_key(third.samples)[("backup_runs_total", (("target", "simpel-db"),))] == 43
    assert third.errors == {} and ("fixed_now", ()) in by_key(third.samples)
    bad.unlink()
    assert ("fixed_now", ()) not in by_key(tf.read().samples)
