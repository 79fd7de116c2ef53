"""Prometheus text exposition, rendered when results change and never on a scrape.

prometheus_client's generate_latest costs ~0.26 s for 24k series on these machines, which would
make every scrape slow. Here each source (one check, one device, the host) renders its own lines
once when its result changes; a scrape only serves the last joined body (and its gzip), so it
costs the same whatever the targets are doing.
"""

from __future__ import annotations

import gzip
import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from collectors.base import MetricSpec, Sample

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    """Go-style float formatting as Prometheus expects (+Inf, -Inf, NaN, integers plain)."""
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    if math.isnan(value):
        return "NaN"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def render_sample(sample: Sample, name: str | None = None) -> str:
    n = name or sample.name
    if sample.labels:
        body = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in sample.labels)
        return f"{n}{{{body}}} {format_value(sample.value)}\n"
    return f"{n} {format_value(sample.value)}\n"


@dataclass
class _Source:
    # family name -> rendered lines of this source for that family
    lines: dict[str, str]


def _describe(spec: MetricSpec) -> str:
    return f"{spec.kind} {{{','.join(spec.labels)}}} {spec.help!r}"


class Exposition:
    """The current /metrics body, kept up to date by `update`/`remove` and `refresh`.

    Families are declared up front from the collectors' METRICS; a sample whose family is not
    declared is dropped and counted, so the declared catalogue really is the contract.
    """

    def __init__(self, specs: Iterable[MetricSpec] = ()) -> None:
        self._specs: dict[str, MetricSpec] = {}
        # Sample name -> family, for histogram/summary samples (x_bucket, x_sum, x_count).
        self._sample_family: dict[str, str] = {}
        self._sources: dict[str, _Source] = {}
        self._lock = threading.Lock()
        self._dirty = True
        self._body = b""
        self._gzip = b""
        self.undeclared_samples = 0
        self.declare(specs)

    def declare(self, specs: Iterable[MetricSpec]) -> None:
        with self._lock:
            for spec in specs:
                known = self._specs.get(spec.name)
                if known is not None and known.foreign and spec.foreign:
                    self._specs[spec.name] = spec  # a *.prom file changed its HELP or TYPE
                elif known is not None and spec.foreign:
                    continue  # never lets a file redefine one of pantau's own families
                elif known is not None and known != spec:
                    # Two parts emitting one family with different meanings would make every
                    # query over it wrong; refuse at start rather than serve it.
                    raise ValueError(f"metric {spec.name} declared twice differently: "
                                     f"{_describe(known)} and {_describe(spec)}")
                else:
                    self._specs.setdefault(spec.name, spec)
                if spec.kind in ("histogram", "summary"):
                    for suffix in ("_bucket", "_sum", "_count"):
                        self._sample_family.setdefault(spec.name + suffix, spec.name)
            self._dirty = True

    @property
    def specs(self) -> dict[str, MetricSpec]:
        return dict(self._specs)

    def update(self, key: str, samples: Iterable[Sample]) -> None:
        """Replace everything source `key` contributes."""
        lines: dict[str, list[str]] = {}
        dropped = 0
        for s in samples:
            fam = self._sample_family.get(s.name, s.name)
            if fam not in self._specs:
                dropped += 1
                continue
            lines.setdefault(fam, []).append(render_sample(s))
        src = _Source({fam: "".join(ls) for fam, ls in lines.items()})
        with self._lock:
            self.undeclared_samples += dropped
            self._sources[key] = src
            self._dirty = True

    def remove(self, key: str) -> None:
        with self._lock:
            if self._sources.pop(key, None) is not None:
                self._dirty = True

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._sources)

    def refresh(self) -> bool:
        """Join the per-source lines into one body if anything changed. Returns True if it did."""
        with self._lock:
            if not self._dirty:
                return False
            sources = list(self._sources.values())
            specs = dict(self._specs)
            self._dirty = False
        by_family: dict[str, list[str]] = {}
        for src in sources:
            for fam, text in src.lines.items():
                by_family.setdefault(fam, []).append(text)
        parts: list[str] = []
        for fam in sorted(by_family):
            spec = specs[fam]
            kind = "gauge" if spec.kind == "info" else spec.kind
            parts.append(f"# HELP {fam} {escape_help(spec.help)}\n# TYPE {fam} {kind}\n")
            parts.extend(by_family[fam])
        body = "".join(parts).encode("utf-8")
        compressed = gzip.compress(body, compresslevel=1)
        with self._lock:
            self._body, self._gzip = body, compressed
        return True

    def body(self, use_gzip: bool = False) -> bytes:
        """The last rendered body; cheap, safe from any thread."""
        return self._gzip if use_gzip else self._body
