"""Latest result per check/device: the one place every reader (exposition, alert state,
history, remote write, CLI) takes collector results from.

The store adds the labels collectors must not set themselves (`site`, `check`, the check's
configured labels), so every reader sees the same final series.
"""

from __future__ import annotations

import logging
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


class Store:
    def __init__(self, site: str) -> None:
        self.site = site
        self._results: dict[str, Result] = {}
        self._listeners: list[Listener] = []
        self._remove_listeners: list[Callable[[str], None]] = []
        # key -> (the fixed labels, collector labels -> final labels) of the last put: a check
        # emits the same series run after run, so building its label tuples is a lookup
        self._labels: dict[str, tuple[tuple[tuple[str, str], ...], dict[Labels, Labels]]] = {}
        self.version = 0

    def subscribe(self, listener: Listener) -> None:
        """Call `listener` after every put, in the event loop thread; it must not block."""
        self._listeners.append(listener)

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
        prefix: list[tuple[str, str]] = [("site", self.site)]
        if per_check:
            prefix.append(("check", name))
        if extra_labels:
            prefix.extend(sorted(extra_labels.items()))
        fixed = tuple(prefix)
        cached = self._labels.get(key)
        known = cached[1] if cached is not None and cached[0] == fixed else {}
        final: dict[Labels, Labels] = {}
        fixed_names: set[str] | None = None
        samples = []
        # A collector that hands the same Sample object again for an unchanged value (SNMP
        # does) gets the same final Sample again: nothing new for the garbage collector.
        prev = self._results.get(key) if cached is not None and cached[0] == fixed else None
        prev_in = prev.observation.samples if prev is not None else []
        prev_out = prev.samples if prev is not None else []
        n_prev = len(prev_in) if len(prev_in) == len(prev_out) else 0
        last_in: Labels | None = None
        for i, s in enumerate(observation.samples):
            if i < n_prev and prev_in[i] is s:
                out = prev_out[i]
                if s.labels is not last_in:  # the cache below keeps these labels too
                    final[s.labels] = out.labels
                    last_in = s.labels
                samples.append(out)
                continue
            labels = final.get(s.labels)
            if labels is None:
                labels = known.get(s.labels)
                if labels is None:
                    if fixed_names is None:
                        fixed_names = {k for k, _ in fixed}
                    labels = fixed + tuple(p for p in s.labels if p[0] not in fixed_names)
                final[s.labels] = labels
            samples.append(Sample(s.name, s.value, labels))
        self._labels[key] = (fixed, final)  # only this put's: the cache cannot grow stale
        result = Result(key, name, type_, observation, samples)
        self._results[key] = result
        self.version += 1
        for listener in self._listeners:
            try:
                listener(result)
            except Exception:  # a broken reader must not stop collection
                log.exception("store listener failed for %s", key)
        return result

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
