"""textfile: *.prom files that cron jobs and backup scripts write, as node_exporter's
--collector.textfile.directory reads them.

Files are parsed with prometheus_client's text parser, imported only when a directory is
configured, so a host-only agent without one never loads it. A file that cannot be used (bad
syntax, a timestamp, a series another file already has, still being written) is left out
whole, named in a log line (with the line number when the parser can say) and in
node_textfile_scrape_error; the other files and the rest of the host run are unaffected.
Writers should write to a temporary file and rename it, as for node_exporter.

A file is parsed again only when its bytes differ from the last run's: parsing thousands of
series took ~0.5 s of Python in a worker thread every run, and while it ran the event loop
waited for the GIL at every hand-off: a large part of the /metrics tail (BENCHMARKS.md).
The outcome of the same bytes is the same (samples, families, or the same error), so the
answer does not change.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from collectors.base import RESERVED_LABELS, MetricKind, MetricSpec, Sample

log = logging.getLogger(__name__)

METRICS = (
    MetricSpec("node_textfile_mtime_seconds", "gauge",
               "Unixtime mtime of textfiles successfully read.", ("file",), "seconds"),
    MetricSpec("node_textfile_scrape_error", "gauge",
               "1 if there was an error opening or reading a file, 0 otherwise"),
)
_OWN = frozenset(m.name for m in METRICS)
_KINDS: dict[str, MetricKind] = {
    "counter": "counter", "gauge": "gauge", "histogram": "histogram", "summary": "summary",
    "unknown": "untyped", "untyped": "untyped", "info": "gauge", "stateset": "gauge",
    "gaugehistogram": "histogram",
}


class TextfileError(ValueError):
    pass


@dataclass
class TextfileResult:
    samples: list[Sample] = field(default_factory=list)
    specs: list[MetricSpec] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # path -> one line


def _parse(text: str) -> list[Any]:
    from prometheus_client.parser import text_string_to_metric_families

    return list(text_string_to_metric_families(text))


def _first_bad_line(text: str) -> int | None:
    """The 1-based line where parsing first fails: a bisection over line prefixes, since
    prometheus_client's messages carry no line number. Only run for a file that failed."""
    lines = text.splitlines(keepends=True)

    def fails(n: int) -> bool:
        try:
            _parse("".join(lines[:n]))
        except Exception:
            return True
        return False

    lo, hi = 0, len(lines)  # prefix lo parses, prefix hi fails
    if not fails(hi):
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fails(mid):
            hi = mid
        else:
            lo = mid
    return hi


def parse_file(path: str, text: str,
               reserved: Iterable[str] = ()) -> tuple[list[Sample], list[MetricSpec]]:
    """One file's samples and families; TextfileError (naming the line if known) if unusable."""
    if text and not text.endswith("\n"):
        line = text.count("\n") + 1
        raise TextfileError(f"line {line}: incomplete last line (file still being written?)")
    try:
        families = _parse(text)
    except Exception as e:
        bad = _first_bad_line(text)
        where = f"line {bad}: " if bad else ""
        raise TextfileError(f"{where}{type(e).__name__}: {e}") from None
    reserved = frozenset(reserved)
    samples: list[Sample] = []
    specs: list[MetricSpec] = []
    for fam in families:
        kind = _KINDS.get(fam.type, "untyped")
        doc = fam.documentation or f"Metric read from {path}"
        names: list[str] = []
        for s in fam.samples:
            if s.timestamp is not None:
                raise TextfileError(f"{s.name}: client-side timestamps are not supported")
            if (s.name in reserved or s.name in _OWN or fam.name in reserved
                    or s.name.startswith("pantau_")):
                raise TextfileError(f"{s.name}: a family pantau itself exports")
            # Prometheus would rename these on ingest anyway (honor_labels: false).
            labels = tuple(sorted(
                (f"exported_{k}" if k in RESERVED_LABELS else k, str(v))
                for k, v in s.labels.items()))
            samples.append(Sample(s.name, float(s.value), labels))
            if s.name not in names:
                names.append(s.name)
        if kind in ("histogram", "summary"):
            specs.append(MetricSpec(fam.name, kind, doc, foreign=True))
        else:
            specs.extend(MetricSpec(n, kind, doc, foreign=True) for n in names)
    keys = [(s.name, s.labels) for s in samples]
    if len(set(keys)) != len(keys):
        seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        dup = next(k for k in keys if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise TextfileError(f"series {dup[0]}{dict(dup[1])} appears twice")
    return samples, specs


def _read_stable(path: Path) -> tuple[bytes, float]:
    """The file's bytes and mtime, read again if it changed while being read."""
    for _ in range(3):
        before = path.stat()
        data = path.read_bytes()
        after = path.stat()
        if (before.st_mtime_ns, before.st_size) == (after.st_mtime_ns, after.st_size) \
                and len(data) == after.st_size:
            # Whole seconds, as node_exporter reports them (time.Unix()).
            return data, float(after.st_mtime_ns // 10**9)
    raise TextfileError("file kept changing while being read (write it and rename it)")


class _Parsed(NamedTuple):
    samples: list[Sample]
    specs: list[MetricSpec]
    keys: list[tuple[str, tuple[tuple[str, str], ...]]]


class Textfile:
    """The textfile part; remembers errors so each new problem is logged once, not per run."""

    def __init__(self, directory: Path, reserved: Iterable[str] = ()) -> None:
        self.directory = directory
        self.reserved = frozenset(reserved)
        self._logged: dict[str, str] = {}
        # path -> (its bytes, what they parsed to, or the error message they gave)
        self._parsed: dict[str, tuple[bytes, _Parsed | str]] = {}

    def _parse_cached(self, name: str, data: bytes) -> _Parsed:
        """parse_file of these bytes, or what it gave for the same bytes last run."""
        known = self._parsed.get(name)
        if known is not None and known[0] == data:
            if isinstance(known[1], str):
                raise TextfileError(known[1])
            return known[1]
        try:
            samples, specs = parse_file(name, data.decode("utf-8", errors="strict"),
                                        self.reserved)
        except (UnicodeDecodeError, TextfileError) as e:
            msg = str(e) if isinstance(e, TextfileError) else f"{type(e).__name__}: {e}"
            self._parsed[name] = (data, msg)
            raise TextfileError(msg) from None
        parsed = _Parsed(samples, specs, [(s.name, s.labels) for s in samples])
        self._parsed[name] = (data, parsed)
        return parsed

    def read(self) -> TextfileResult:
        res = TextfileResult()
        try:
            paths = sorted(p for p in self.directory.iterdir()
                           if p.name.endswith(".prom") and p.is_file())
        except OSError as e:
            res.errors[str(self.directory)] = f"cannot list directory: {e.strerror or e}"
            paths = []
        seen_series: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        kinds: dict[str, MetricSpec] = {}
        for path in paths:
            name = str(path)
            try:
                data, mtime = _read_stable(path)
                samples, specs, keys = self._parse_cached(name, data)
                for spec in specs:
                    known = kinds.get(spec.name)
                    if known is not None and known.kind != spec.kind:
                        raise TextfileError(f"{spec.name}: {spec.kind} here, {known.kind} in "
                                            "an earlier file")
                dup = next((k for k in keys if k in seen_series), None) if seen_series \
                    else None
                if dup is not None:
                    raise TextfileError(f"series {dup[0]}{dict(dup[1])} appears twice "
                                        "(also in an earlier file)")
            except FileNotFoundError:
                continue  # removed between listing and reading: gone, not an error
            except (OSError, UnicodeDecodeError, TextfileError) as e:
                msg = str(e) if isinstance(e, TextfileError) else f"{type(e).__name__}: {e}"
                res.errors[name] = msg
                continue
            seen_series.update(keys)
            for spec in specs:
                if spec.name not in kinds:
                    kinds[spec.name] = spec
                    res.specs.append(spec)
            res.samples.extend(samples)
            res.samples.append(Sample("node_textfile_mtime_seconds", mtime, (("file", name),)))
        res.samples.append(Sample("node_textfile_scrape_error", 1.0 if res.errors else 0.0))
        for gone in set(self._parsed) - {str(p) for p in paths}:
            del self._parsed[gone]  # a removed file's bytes are not kept
        self._log(res.errors)
        return res

    def _log(self, errors: dict[str, str]) -> None:
        for name, msg in errors.items():
            if self._logged.get(name) != msg:
                log.error("textfile %s: %s; the file is left out until fixed", name, msg)
        for name in set(self._logged) - set(errors):
            log.info("textfile %s: readable again", name)
        self._logged = dict(errors)
