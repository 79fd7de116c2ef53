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
        # the same series (the very label tuples, as the store hands them) with new values
        st.tuples(st.just("values"), keys, st.lists(samples, min_size=4, max_size=4)),
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
                if op == "again":
                    ss = last.get(key, [])
                elif op == "values":  # values drawn from `ss`, series from the last update
                    ss = [Sample(p.name, v.value if j % 2 else p.value, p.labels)
                          for j, (p, v) in enumerate(zip(last.get(key, []), ss, strict=False))]
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


def test_build_ahead_at_most_once_between_two_scrapes() -> None:
    """Building ahead runs only after a scrape took the body, only when something changed,
    and once until the next scrape; the scrape then finds it built (no build of its own) and
    the bytes are the full renderer's."""
    new, old = Exposition(SPECS), FullRenderer(SPECS)
    calls: list[int] = []
    new.on_change(lambda: calls.append(new.changes))
    for i in range(40):
        ss = [Sample.of("a_gauge", i, k=str(i)), Sample.of("b_total", 1, k=str(i))]
        new.update(f"s{i}", ss)
        old.update(f"s{i}", ss)
    assert not new.build_ahead()  # no scrape yet: nobody to build for
    assert calls == []  # and no hook before the first scrape
    assert new.body() == old.body()
    assert not new.build_ahead()  # nothing changed since that scrape
    renders = new.renders
    for step in range(3):
        new.update("s3", [Sample.of("a_gauge", 100 + step, k="3"), Sample.of("b_total", 1, k="3")])
        old.update("s3", [Sample.of("a_gauge", 100 + step, k="3"), Sample.of("b_total", 1, k="3")])
        new.update("s7", [Sample.of("a_gauge", 200 + step, k="7")])
        old.update("s7", [Sample.of("a_gauge", 200 + step, k="7")])
        assert len(calls) == step + 1  # once per scrape, at the first change after it
        assert new.build_ahead() and new.renders == renders + 1
        renders = new.renders
        new.update("s9", [Sample.of("a_gauge", 300 + step, k="9")])  # changed again
        old.update("s9", [Sample.of("a_gauge", 300 + step, k="9")])
        assert not new.build_ahead()  # already built once since the last scrape
        assert new.renders == renders and len(calls) == step + 1
        assert new.body() == old.body()  # the scrape builds the rest itself
        renders = new.renders
    assert new.ahead_builds == 3


def test_build_ahead_of_a_gzip_scrape_builds_the_gzip() -> None:
    """After a gzip scrape the gzip is built ahead too: the next gzip scrape hands out the
    bytes built ahead, which decompress to the body; after a plain one only the body is."""
    e, old = Exposition(SPECS), FullRenderer(SPECS)
    for i in range(100):
        e.update(f"s{i}", [Sample.of("a_gauge", i, k=str(i))])
        old.update(f"s{i}", [Sample.of("a_gauge", i, k=str(i))])
    e.body(use_gzip=True)
    e.update("s5", [Sample.of("a_gauge", -5, k="5")])
    old.update("s5", [Sample.of("a_gauge", -5, k="5")])
    assert e.build_ahead()
    ahead = e._gzip  # built ahead, before the scrape asks
    assert not e._gzip_stale
    z = e.body(use_gzip=True)
    assert z is ahead and gzip.decompress(z) == old.body()
    assert e._body is None  # a gzip scrape never joined the plain body
    e.body()  # a plain scrape
    e.update("s6", [Sample.of("a_gauge", -6, k="6")])
    old.update("s6", [Sample.of("a_gauge", -6, k="6")])
    assert e.build_ahead() and e._gzip_stale  # the body only
    assert e.body() == old.body() and gzip.decompress(e.body(use_gzip=True)) == old.body()


def test_no_hook_and_no_build_ahead_for_an_unchanged_result() -> None:
    e = Exposition(SPECS)
    calls: list[int] = []
    e.on_change(lambda: calls.append(1))
    e.update("x", [Sample.of("a_gauge", 1, k="1")])
    e.body()
    e.update("x", [Sample.of("a_gauge", 1, k="1")])  # the same result: the body is unchanged
    assert calls == [] and not e.build_ahead()
    e.remove("nothing-there")
    assert calls == [] and not e.build_ahead()
    e.remove("x")
    assert calls == [1] and e.build_ahead() and e.body() == b""


def test_gzip_after_plain_scrapes_and_family_changes() -> None:
    """The gzip's CRC is kept per family up to the first one that changed since the last
    gzip: plain scrapes in between, families appearing and leaving in front of others, and a
    HELP change must all still give a gzip of exactly the full renderer's body."""
    specs = [*SPECS, MetricSpec("z_late", "gauge", "Late.", foreign=True)]
    new, old = Exposition(specs), FullRenderer(specs)

    def put(key: str, samples: list[Sample]) -> None:
        new.update(key, samples)
        old.update(key, samples)

    for i in range(150):
        put(f"s{i}", [Sample.of("b_total", i, k=str(i)), Sample.of("d_untyped", i)])
    assert gzip.decompress(new.body(use_gzip=True)) == old.body()
    steps: list[tuple[str, list[Sample]]] = [
        ("s149", [Sample.of("d_untyped", -1)]),  # the last family only
        ("s0", [Sample.of("b_total", 9, k="0"), Sample.of("d_untyped", 0)]),  # the first
        ("s7", [Sample.of("a_gauge", 1, k="7")]),  # a family in front appears, others leave
        ("s7", []),  # and it leaves again
        ("s8", [Sample.of("z_late", 2), Sample.of("b_total", 8, k="8")]),
    ]
    for n, (key, samples) in enumerate(steps):
        put(key, samples)
        assert new.body() == old.body()  # a plain scrape builds the body, not the gzip
        put(f"s{100 + n}", [Sample.of("d_untyped", 1000 + n)])
        assert new.body() == old.body()
        assert gzip.decompress(new.body(use_gzip=True)) == old.body()
    new.declare([MetricSpec("z_late", "gauge", "Late, reworded.", foreign=True)])
    old.specs["z_late"] = MetricSpec("z_late", "gauge", "Late, reworded.", foreign=True)
    assert gzip.decompress(new.body(use_gzip=True)) == old.body()
