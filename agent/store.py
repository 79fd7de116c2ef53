"""Latest result per check/device: the one place every reader (exposition, alert state,
history, remote write, CLI) takes collector results from.

The store adds the labels collectors must not set themselves (`site`, `check`, the check's
configured labels), so every reader sees the same final series.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from collectors.base import Observation, Sample

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Result:
    """One source's latest observation, with the series as exposed."""

    key: str  # "check:<name>", "host", "snmp:<device>", "ssh:<name>", "self"
    name: str  # check or device name
    type: str  # collector type
    observation: Observation
    samples: list[Sample] = field(default_factory=list)


Listener = Callable[[Result], None]
Labels = tuple[tuple[str, str], ...]


class _Relabel:
    """A key's label cache: the fixed labels of its last put, and its samples' collector labels
    -> final labels, by position too (a check emits the same series in the same order run
    after run, and a batched collector hands the very same label tuples each time)."""

    __slots__ = ("by_position", "extra", "final", "fixed", "inputs", "name", "outputs",
                 "per_check")

    def __init__(self, name: str, per_check: bool, extra: dict[str, str] | None,
                 fixed: Labels) -> None:
        self.name, self.per_check, self.extra, self.fixed = name, per_check, extra, fixed
        self.final: dict[Labels, Labels] = {}
        self.by_position: list[tuple[Labels, Labels]] = []
        # The collector's samples of the last put and the stored ones made of them: a
        # collector that hands the same Sample object again for an unchanged value (SNMP
        # does) gets the same stored Sample again, nothing new for the garbage collector.
        self.inputs: list[Sample] | None = None
        self.outputs: list[Sample] = []


class Store:
    def __init__(self, site: str) -> None:
        self.site = site
        self._results: dict[str, Result] = {}
        self._listeners: list[Listener] = []
        self._remove_listeners: list[Callable[[str], None]] = []
        # key -> the labels of its last put: building a check's label tuples is a lookup
        self._labels: dict[str, _Relabel] = {}
        self._labels_site = site
        self.version = 0

    def subscribe(self, listener: Listener) -> None:
        """Call `listener` after every put, in the event loop thread; it must not block."""
        self._listeners.append(listener)

    def _relabel(self, key: str, name: str, per_check: bool,
                 extra_labels: dict[str, str] | None) -> _Relabel:
        if self._labels_site != self.site:  # a reload changed the site: every label changes
            self._labels.clear()
            self._labels_site = self.site
        cached = self._labels.get(key)
        if (cached is not None and cached.name == name and cached.per_check == per_check
                and cached.extra == (extra_labels or None)):
            return cached
        prefix: list[tuple[str, str]] = [("site", self.site)]
        if per_check:
            prefix.append(("check", name))
        if extra_labels:
            prefix.extend(sorted(extra_labels.items()))
        fixed = tuple(prefix)
        fresh = _Relabel(name, per_check, dict(extra_labels) if extra_labels else None, fixed)
        if cached is not None and cached.fixed == fixed:
            fresh.final = cached.final
        self._labels[key] = fresh
        return fresh

    def put(
        self,
        key: str,
        name: str,
        type_: str,
        observation: Observation,
        *,
        per_check: bool,
        extra_labels: dict[str, str] | None = None,
    ) -> Result:
        """Store `observation` as the latest result of `key` and tell every listener. Its
        `samples` are replaced by the stored ones (with the store's labels): put a given
        Observation once."""
        cache = self._relabel(key, name, per_check, extra_labels)
        given = observation.samples
        samples = _same_series(cache, given)
        if samples is None:
            samples = self._relabel_samples(cache, given)
        # The stored observation keeps the final samples, not a second copy with the
        # collector's labels that no reader looks at: a result is ~10 objects fewer for the
        # garbage collector to walk, run after run.
        observation.samples = samples
        result = Result(key, name, type_, observation, samples)
        self._results[key] = result
        self.version += 1
        for listener in self._listeners:
            try:
                listener(result)
            except Exception:  # a broken reader must not stop collection
                log.exception("store listener failed for %s", key)
        return result

    @staticmethod
    def _relabel_samples(cache: _Relabel, given: list[Sample]) -> list[Sample]:
        """The stored samples of `given` when its series are not the last put's by position
        (the first put, a series added, removed or moved)."""
        fixed = cache.fixed
        known = cache.final
        by_position = cache.by_position
        final: dict[Labels, Labels] = {}
        positions: list[tuple[Labels, Labels]] = []
        fixed_names: set[str] | None = None
        samples: list[Sample] = []
        inputs, outputs = cache.inputs, cache.outputs
        n_prev = len(inputs) if inputs is not None and len(inputs) == len(outputs) else 0
        reused = 0
        for j, s in enumerate(given):
            src = s.labels
            if j < n_prev and inputs is not None and inputs[j] is s:
                out = outputs[j]
                final[src] = out.labels
                positions.append((src, out.labels))
                samples.append(out)
                reused += 1
                continue
            if j < len(by_position) and by_position[j][0] is src:
                labels = by_position[j][1]
            else:
                got = final.get(src) or known.get(src)
                if got is None:
                    if fixed_names is None:
                        fixed_names = {k for k, _ in fixed}
                    got = fixed + tuple(p for p in src if p[0] not in fixed_names)
                labels = got
            final[src] = labels
            positions.append((src, labels))
            samples.append(Sample(s.name, s.value, labels))
        # only this put's: the cache cannot grow stale
        cache.final, cache.by_position = final, positions
        # Keep the collector's samples only while handing them back pays; one that makes new
        # ones every run (icmp) is tried every other put, so they are not kept alive for
        # nothing run after run.
        cache.inputs = given if reused or inputs is None else None
        cache.outputs = samples
        return samples

    def subscribe_removals(self, listener: Callable[[str], None]) -> None:
        self._remove_listeners.append(listener)

    def remove(self, key: str) -> None:
        self._labels.pop(key, None)
        if self._results.pop(key, None) is not None:
            self.version += 1
            for listener in self._remove_listeners:
                listener(key)

    def get(self, key: str) -> Result | None:
        return self._results.get(key)

    def snapshot(self) -> dict[str, Result]:
        return dict(self._results)


def _same_series(cache: _Relabel, given: list[Sample]) -> list[Sample] | None:
    """The stored samples of `given` if it has the last put's series in the same order (a
    check's run after run: the same label tuple objects, position by position), else None.
    A sample whose value did not change is the last put's stored Sample again, so an
    unchanged series makes no new object for the garbage collector to walk; the label cache
    (`final`, `by_position`) is this put's as it is and stays."""
    by_position, outputs = cache.by_position, cache.outputs
    if len(given) != len(by_position) or len(outputs) != len(by_position):
        return None
    samples: list[Sample] = []
    for j, s in enumerate(given):
        src, labels = by_position[j]
        if s.labels is not src:
            return None
        out = outputs[j]
        # The last stored Sample stands for this one when the value is equal, of the same
        # type (1 and 1.0 read the same but are not the same for every reader) and, for
        # zero, of the same sign; NaN never is. (The same object again, SNMP's unchanged
        # value, has of course the same value.)
        v, w = s.value, out.value
        if (v != w or type(v) is not type(w) or out.name != s.name
                or (not v and math.copysign(1.0, v) != math.copysign(1.0, w))):
            out = Sample(s.name, v, labels)
        samples.append(out)
    cache.inputs = None  # equal values are found without the collector's objects
    cache.outputs = samples
    return samples
