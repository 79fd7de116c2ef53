"""A result that moves nothing the other checks read evaluates only the pending checks and
itself (StateMachine._evaluate_held). This compares that machine, result by result, against
one that evaluates every down check after every result (the behaviour before), on random
dependency graphs (depends_on and depends_on_any) and random result streams."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from agent.alerting.state import Damping, Graph, Outcome, StateMachine

NAMES = [f"c{i}" for i in range(7)]


class AlwaysAll(StateMachine):
    """Never takes the shortcut: every result evaluates every down check."""

    def _evaluate_held(self, observed: str, at: float, out: Outcome) -> None:
        self._evaluate_all(at, out)


@st.composite
def graphs(draw: st.DrawFn) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    # Edges only towards lower indexes: never a cycle.
    deps: dict[str, list[str]] = {}
    anys: dict[str, list[str]] = {}
    for i, n in enumerate(NAMES[1:], start=1):
        earlier = NAMES[:i]
        deps[n] = draw(st.lists(st.sampled_from(earlier), max_size=2, unique=True))
        if i >= 2 and draw(st.booleans()):
            anys[n] = draw(st.lists(st.sampled_from(earlier), min_size=2, max_size=2,
                                    unique=True))
    return deps, anys


def snapshot(m: StateMachine) -> list[tuple[object, ...]]:
    return [(s.name, s.state, s.verdict, s.cause, s.rechecking, s.since, s.held_since)
            for s in m.checks.values()]


@settings(max_examples=300, deadline=None)
@given(graphs(),
       st.lists(st.tuples(st.sampled_from(NAMES), st.booleans(), st.floats(0.1, 40.0)),
                min_size=1, max_size=120),
       st.integers(1, 3), st.integers(1, 2))
# Found by a longer search: c1's hold runs out at c5's result, which was evaluated (as the
# observed check) before c2; evaluating all took c2 first. The verdicts came out in another
# order until a held pass went on as a full one from its first change.
@example(({"c1": ["c0"], "c2": ["c0", "c1"], "c3": [], "c4": [], "c5": ["c0", "c1"],
           "c6": []}, {}),
         [("c0", False, 0.1), ("c1", False, 0.1), ("c0", True, 0.1), ("c2", False, 0.1),
          ("c5", False, 30.0), ("c5", False, 30.0)], 1, 1)
def test_shortcut_gives_what_evaluating_everything_gives(
        graph: tuple[dict[str, list[str]], dict[str, list[str]]],
        stream: list[tuple[str, bool, float]], failures: int, successes: int) -> None:
    deps, anys = graph
    damping = Damping(failures, successes)
    fast = StateMachine(Graph.build(NAMES, deps, anys), default=damping, settle=60.0)
    full = AlwaysAll(Graph.build(NAMES, deps, anys), default=damping, settle=60.0)
    at = 1000.0
    shortcuts = 0
    for name, ok, gap in stream:
        at += gap
        settled = fast._settled
        a = fast.observe(name, ok, at, "" if ok else "timeout")
        b = full.observe(name, ok, at, "" if ok else "timeout")
        shortcuts += settled
        assert a == b, (name, ok, at)
        assert snapshot(fast) == snapshot(full)
        if int(at) % 7 == 0:
            assert fast.tick(at) == full.tick(at)
    assert shortcuts <= len(stream)


def test_an_up_check_result_skips_the_suppressed_ones() -> None:
    """The shortcut is taken: with the root down and its dependents suppressed, a success of
    an unrelated up check does not evaluate the suppressed ones."""
    g = Graph.build(["root", "a", "b", "other"], {"a": ["root"], "b": ["root"]})
    m = StateMachine(g, default=Damping(1, 1), settle=60.0)
    for n in ("root", "a", "b"):
        m.observe(n, False, 10.0, "timeout")
    m.observe("other", True, 11.0)
    assert {n: m.checks[n].verdict for n in ("a", "b")} == {"a": "suppressed", "b": "suppressed"}
    seen: list[str] = []
    original = m._evaluate

    def spy(s, at, out):  # type: ignore[no-untyped-def]
        seen.append(s.name)
        return original(s, at, out)

    m._evaluate = spy  # type: ignore[method-assign]
    m.observe("other", True, 12.0)
    assert seen == []
    m.observe("root", True, 13.0)  # the root's state moves: everything is evaluated
    assert "a" in seen and "b" in seen
