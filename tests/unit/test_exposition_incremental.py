"""The incremental exposition serves exactly the bytes the old full renderer served.

`FullRenderer` below is the renderer pantau used before issue 16 (every change re-joined every
source's lines per family and re-compressed the whole body), kept here as the reference while
both exist. Hypothesis drives both through the same random sequences of updates, unchanged
re-puts and removals, over families of every kind, with label values that need escaping and
values that need special formatting; after every step the bodies must be byte-identical and the
gzip must decompress to the same bytes.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable

from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.base import MetricSpec, Sample
from exporters import exposition as expo_mod
from exporters.exposition import Exposition, escape_help, render_sample

SPECS = [
    MetricSpec("a_gauge", "gauge", "A gauge.", ("k",)),
    MetricSpec("b_total", "counter", "B\\ with\nnewline.", ("k",)),
    MetricSpec("c_info", "info", "Info.", ("version",)),
    MetricSpec("d_untyped", "untyped", "Untyped."),
    MetricSpec("e_seconds", "histogram", "Hist.", foreign=True),
    MetricSpec("f_quantiles", "summary", "Summary.", foreign=True),
]
SAMPLE_NAMES = ["a_gauge", "b_total", "c_info", "d_untyped", "e_seconds_bucket",
                "e_seconds_sum", "e_seconds_count", "f_quantiles", "f_quantiles_count",
                "undeclared_x"]


class FullRenderer:
    """The pre-issue-16 algorithm: per-source lines, whole body joined on every refresh."""

    def __init__(self, specs: Iterable[MetricSpec]) -> None:
        self.specs = {s.name: s for s in specs}
        self.sample_family: dict[str, str] = {}
        for s in self.specs.values():
            if s.kind in ("histogram", "summary"):
                for suffix in ("_bucket", "_sum", "_count"):
                    self.sample_family.setdefault(s.name + suffix, s.name)
        self.sources: dict[str, dict[str, str]] = {}

    def update(self, key: str, samples: Iterable[Sample]) -> None:
        lines: dict[str, list[str]] = {}
        for s in samples:
            fam = self.sample_family.get(s.name, s.name)
            if fam in self.specs:
                lines.setdefault(fam, []).append(render_sample(s))
        self.sources[key] = {fam: "".join(ls) for fam, ls in lines.items()}

    def remove(self, key: str) -> None:
        self.sources.pop(key, None)

    def body(self) -> bytes:
        by_family: dict[str, list[str]] = {}
        for src in self.sources.values():
            for fam, text in src.items():
                by_family.setdefault(fam, []).append(text)
        parts: list[str] = []
        for fam in sorted(by_family):
            spec = self.specs[fam]
            kind = "gauge" if spec.kind == "info" else spec.kind
            parts.append(f"# HELP {fam} {escape_help(spec.help)}\n# TYPE {fam} {kind}\n")
            parts.extend(by_family[fam])
        return "".join(parts).encode("utf-8")


values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-2**53, 2**53).map(float),
    st.sampled_from([0.0, -0.0, 1e15, 1e16, 0.1, 2.5e-7]),
)
label_values = st.text(alphabet=st.sampled_from('ab"\\\nzé7 '), max_size=6)
samples = st.builds(
    lambda name, value, lv, extra: Sample(name, value, (("site", "s"), ("k", lv), *extra)),
    st.sampled_from(SAMPLE_NAMES), values, label_values,
    st.lists(st.tuples(st.sampled_from(["le", "x"]), label_values), max_size=2,
             unique_by=lambda t: t[0]),
)
keys = st.sampled_from([f"src{i}" for i in range(6)])
ops = st.lists(
    st.one_of(
        st.tuples(st.just("update"), keys, st.lists(samples, max_size=4)),
        st.tuples(st.just("again"), keys, st.just([])),  # the same samples once more
        st.tuples(st.just("remove"), keys, st.just([])),
    ),
    min_size=1, max_size=60,
)


def _check(new: Exposition, old: FullRenderer) -> None:
    body = new.body()
    assert body == old.body()
    assert gzip.decompress(new.body(use_gzip=True)) == body


@settings(max_examples=500, deadline=None)
@given(ops, st.sampled_from([1, 2, 3, 32]), st.integers(1, 5))
def test_same_bytes_as_the_full_renderer(sequence: list[tuple[str, str, list[Sample]]],
                                         block: int, every: int) -> None:
    saved = expo_mod.BLOCK
    expo_mod.BLOCK = block  # small blocks: sources of one family spread over many blocks
    try:
        new, old = Exposition(SPECS), FullRenderer(SPECS)
        last: dict[str, list[Sample]] = {}
        for i, (op, key, ss) in enumerate(sequence):
            if op == "remove":
                new.remove(key)
                old.remove(key)
                last.pop(key, None)
            else:
                ss = last.get(key, []) if op == "again" else ss
                new.update(key, ss)
                old.update(key, ss)
                last[key] = ss
            if i % every == 0:  # scrapes between some changes only, as a scraper would
                _check(new, old)
        _check(new, old)
    finally:
        expo_mod.BLOCK = saved


def test_an_unchanged_body_is_not_built_again() -> None:
    e = Exposition(SPECS)
    e.update("x", [Sample.of("a_gauge", 1, k="1")])
    first = e.body(use_gzip=True)
    renders = e.renders
    assert e.body(use_gzip=True) is first and e.body() is e.body()
    e.update("x", [Sample.of("a_gauge", 1, k="1")])  # the same result again: nothing changed
    assert e.body(use_gzip=True) is first and e.renders == renders
    e.update("x", [Sample.of("a_gauge", 2, k="1")])
    assert e.body() != gzip.decompress(first) and e.renders == renders + 1


def test_gzip_is_one_ordinary_member() -> None:
    """One gzip member (not concatenated ones): every client decoder reads it whole."""
    e = Exposition(SPECS)
    for i in range(200):
        e.update(f"s{i}", [Sample.of("a_gauge", i, k=str(i)), Sample.of("b_total", i, k="x")])
    z = e.body(use_gzip=True)
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert d.decompress(z) == e.body() and d.eof and d.unused_data == b""
    assert len(z) < len(e.body()) / 4  # still compresses like a whole-body gzip would


def test_series_matched_by_position_render_as_the_full_renderer() -> None:
    """A source sending the same series in the same order (what the fast path of update
    assumes), then values changed, a series put in front (every position moves), a family
    gone and an undeclared sample in between: always the full renderer's bytes."""
    new, old = Exposition(SPECS), FullRenderer(SPECS)
    k1, k2 = (("k", "1"),), (("k", 'x"y'),)
    base = [Sample("a_gauge", 1.0, k1), Sample("b_total", 5.0, k1), Sample("a_gauge", 2.0, k2),
            Sample("e_seconds_sum", 0.5), Sample("b_total", 7.0, k2)]
    steps = [
        base,
        list(base),  # the same objects
        [Sample(s.name, s.value, s.labels) for s in base],  # equal, not identical
        [*base[:1], Sample("b_total", 6.0, k1), *base[2:]],  # one value changed
        [Sample("a_gauge", -0.0, k1), *base[1:3], Sample("e_seconds_sum", float("nan")),
         base[4]],
        [Sample("d_untyped", 3.0), *base],  # every series one position on
        [Sample("undeclared_x", 1.0), *base[:2]],  # families gone, a dropped sample first
        [Sample("undeclared_x", 1.0), *base[:2]],
        base,
    ]
    for samples in steps:
        new.update("src", samples)
        old.update("src", samples)
        new.update("other", base[:2])
        old.update("other", base[:2])
        assert new.body() == old.body()
        assert gzip.decompress(new.body(use_gzip=True)) == old.body()
