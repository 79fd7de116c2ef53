"""Start a real VictoriaMetrics (Debian's single-node /usr/bin/victoria-metrics) for a test,
on loopback or inside a network namespace the test made, and read back its raw samples.

VictoriaMetrics keeps every sample it is sent, duplicates included (deduplication is off unless
-dedup.minScrapeInterval is set), so /api/v1/export shows exactly what a remote writer
delivered: a sample sent twice appears twice.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.procs import stop_process

VICTORIA_METRICS = "/usr/bin/victoria-metrics"

# (labels without __name__ as a sorted tuple, metric name) -> one series
SeriesKey = tuple[str, tuple[tuple[str, str], ...]]


def series_key(name: str, labels: dict[str, str]) -> SeriesKey:
    return name, tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))


@dataclass
class RunningVictoriaMetrics:
    url: str  # as seen from inside `netns` (or from the test when netns is None)
    proc: subprocess.Popen[bytes]
    log_path: Path
    netns: str | None = None

    def get(self, path: str, params: dict[str, str] | None = None,
            timeout: float = 30.0) -> bytes:
        url = f"{self.url}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        if self.netns:
            r = subprocess.run(["ip", "netns", "exec", self.netns, "curl", "-sf", "--max-time",
                                str(timeout), url], capture_output=True, timeout=timeout + 10)
            if r.returncode != 0:
                raise OSError(f"curl {path} failed ({r.returncode}): {r.stderr[-300:]!r}")
            return r.stdout
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return bytes(resp.read())

    def flush(self) -> None:
        """Make what was just ingested searchable now rather than within a second or so."""
        self.get("/internal/force_flush")

    def export(self, match: str) -> dict[SeriesKey, list[tuple[int, float]]]:
        """Every raw sample of the series matching `match`: key -> [(timestamp_ms, value)]
        in VictoriaMetrics' order (by timestamp), duplicates kept."""
        self.flush()
        body = self.get("/api/v1/export", {"match[]": match})
        out: dict[SeriesKey, list[tuple[int, float]]] = {}
        for line in body.decode().splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            metric = row["metric"]
            key = series_key(metric.get("__name__", ""), metric)
            out.setdefault(key, []).extend(zip(row["timestamps"], row["values"], strict=True))
        for samples in out.values():
            samples.sort()
        return out


@contextlib.contextmanager
def run_victoria_metrics(data_dir: Path, listen: str, *, netns: str | None = None,
                         extra_args: tuple[str, ...] = (),
                         ready_timeout: float = 30.0) -> Iterator[RunningVictoriaMetrics]:
    """`victoria-metrics -storageDataPath=<data_dir>/data -httpListenAddr=<listen>`; waits for
    /health; always stopped after. `listen` is HOST:PORT; the URL uses HOST (":8428" -> 127.0.0.1
    inside the namespace)."""
    assert Path(VICTORIA_METRICS).exists(), "victoria-metrics missing: run tests/install-deps.sh"
    data_dir.mkdir(parents=True, exist_ok=True)
    cmd = [VICTORIA_METRICS, f"-storageDataPath={data_dir / 'data'}",
           f"-httpListenAddr={listen}", "-retentionPeriod=1", "-loggerLevel=WARN",
           "-selfScrapeInterval=0", *extra_args]
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    log_path = data_dir / "victoria-metrics.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    host, _, port = listen.rpartition(":")
    vm = RunningVictoriaMetrics(f"http://{host or '127.0.0.1'}:{port}", proc, log_path, netns)
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            assert proc.poll() is None, "victoria-metrics exited:\n" + log_path.read_text()
            try:
                if vm.get("/health", timeout=2).strip() == b"OK":
                    break
            except (OSError, subprocess.SubprocessError):
                pass
            assert time.monotonic() < deadline, ("victoria-metrics not ready:\n"
                                                 + log_path.read_text())
            time.sleep(0.2)
        yield vm
    finally:
        stop_process(proc, group=True)
        log.close()
