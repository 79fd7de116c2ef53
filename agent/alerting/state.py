"""Check states with flap damping, and the dependency graph that names the root cause.

Pure logic, no I/O and no clock of its own: the caller feeds observations with their time and
gets back what changed, so every rule here (damping, suppression, the settle hold) is tested
with exact sequences instead of sleeps.

Why the "pending" verdict exists: when the ISP link is cut, the uplink and the portal behind
it fail at nearly the same moment, but each check runs on its own interval. Whichever reaches
its damping threshold first would otherwise notify as if it were the root cause. A down check
whose dependency is *failing but not yet down* is held until that dependency settles (goes
down -> suppressed, or stays up -> notify), bounded by `settle` seconds.

The same hold makes one notification of a whole `depends_on_any` group: when both uplinks are
cut, the first to reach its damping threshold waits (bounded by `settle`) for its partner
that is already failing, and the two go out as ONE notice naming both and the checks they take
down. A recovery is only sent for an outage that was announced: a dependant that was
suppressed (named as affected in its root's alert) or that recovered while still pending says
nothing when it comes back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

State = Literal["up", "down", "unknown"]
# What alerting decided for a check that is down; "ok" for checks that are not down.
Verdict = Literal["ok", "pending", "suppressed", "firing"]


@dataclass(frozen=True)
class Damping:
    """Consecutive failures to go down, consecutive successes to come back up."""

    failures: int = 3
    successes: int = 2


@dataclass(frozen=True)
class Graph:
    """`groups[check]` lists requirement groups: the check is cut off if ANY group has ALL its
    members down. `depends_on: [a, b]` gives groups (a,) and (b,); `depends_on_any: [u1, u2]`
    gives one group (u1, u2): a service reachable through either of two uplinks."""

    groups: Mapping[str, tuple[tuple[str, ...], ...]]

    @classmethod
    def build(
        cls,
        names: Iterable[str],
        depends_on: Mapping[str, Iterable[str]],
        depends_on_any: Mapping[str, Iterable[str]] | None = None,
    ) -> Graph:
        known = list(names)
        known_set = set(known)
        groups: dict[str, tuple[tuple[str, ...], ...]] = {}
        for n in known:
            gs: list[tuple[str, ...]] = [(d,) for d in depends_on.get(n, ())]
            anys = tuple(dict.fromkeys((depends_on_any or {}).get(n, ())))
            if anys:
                gs.append(anys)
            for g in gs:
                for d in g:
                    if d not in known_set:
                        raise ValueError(f"check {n!r} depends on unknown check {d!r}")
                    if d == n:
                        raise ValueError(f"check {n!r} depends on itself")
            groups[n] = tuple(gs)
        graph = cls(groups)
        cycle = graph.find_cycle()
        if cycle:
            raise ValueError(cycle_error(cycle))
        return graph

    def parents(self, name: str) -> set[str]:
        return {d for g in self.groups.get(name, ()) for d in g}

    def find_cycle(self) -> list[str] | None:
        # sorted: the same graph names the same cycle whatever order the config listed it in
        return find_cycle({n: sorted(self.parents(n)) for n in self.groups})


def find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """The first cycle a depth-first walk meets, in walk order (`graph[n]` lists what n needs,
    visited in the order given); None when there is none. The one copy: the config checks and
    the alert graph both use it, so both name a cycle the same way."""
    colour: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        colour[n] = 1
        stack.append(n)
        for d in graph.get(n, ()):
            if colour.get(d) == 1:
                return stack[stack.index(d):]
            if d not in colour:
                found = visit(d)
                if found:
                    return found
        stack.pop()
        colour[n] = 2
        return None

    for n in graph:
        if n not in colour:
            found = visit(n)
            if found:
                return found
    return None


def cycle_error(cycle: list[str]) -> str:
    """The wording both validators give (tests/testdata/invalid-configs pins it)."""
    return "dependency cycle: " + " -> ".join([*cycle, cycle[0]])


@dataclass
class CheckStatus:
    name: str
    damping: Damping
    state: State = "unknown"
    since: float = 0.0
    verdict: Verdict = "ok"
    cause: str = ""  # root cause while down ("" when up)
    reason: str = ""  # last failure reason
    fails: int = 0  # consecutive failed observations
    oks: int = 0  # consecutive successful observations
    observed: bool = False
    held_since: float = 0.0  # when the current "pending" hold began
    # While pending after its root recovered: failures seen since, to confirm it is still down.
    recheck_fails: int = 0
    rechecking: bool = False
    # Suppressed at some point of this outage (a recheck after its root recovered).
    was_suppressed: bool = False
    first_fail: float = 0.0  # time of the first failed result of the current failure streak

    @property
    def failing(self) -> bool:
        """Not down yet, but its latest result failed (or it has no result at all)."""
        return self.state != "down" and (not self.observed or self.fails > 0)


@dataclass(frozen=True)
class Change:
    """A state change, to be recorded in the history."""

    check: str
    old: State
    new: State
    at: float
    reason: str
    cause: str
    verdict: Verdict


@dataclass(frozen=True)
class Notice:
    """A notification to send: a root cause went down, or a check came back."""

    check: str
    kind: Literal["firing", "resolved"]
    at: float
    since: float  # when the check went down
    cause: str
    reason: str
    was_suppressed: bool = False
    first_failure: float = 0.0  # first failed result of this outage (<= since)
    members: tuple[str, ...] = ()  # a whole depends_on_any group announced together
    affected: tuple[str, ...] = ()  # checks this root takes down (down or failing now)


@dataclass(frozen=True)
class VerdictChange:
    check: str
    old: Verdict
    new: Verdict
    at: float
    cause: str


@dataclass
class Outcome:
    changes: list[Change] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    verdicts: list[VerdictChange] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changes or self.notices or self.verdicts)

    def extend(self, other: Outcome) -> None:
        self.changes.extend(other.changes)
        self.notices.extend(other.notices)
        self.verdicts.extend(other.verdicts)


class StateMachine:
    """Every check's state and alert verdict; `observe` and `tick` say what changed."""

    def __init__(
        self,
        graph: Graph,
        damping: Mapping[str, Damping] | None = None,
        default: Damping = Damping(),
        settle: float = 120.0,
        now: float = 0.0,
    ) -> None:
        self.graph = graph
        self.settle = settle
        self.checks: dict[str, CheckStatus] = {
            n: CheckStatus(n, (damping or {}).get(n, default), since=now) for n in graph.groups
        }
        # The checks that are down, so a result costs what is down, not how many checks
        # there are; evaluated in the order of `checks` (that order is the notices' order).
        self._down: set[str] = set()
        # True when the last evaluation of all down checks reached a fixed point.
        self._settled = False
        self._position = {n: i for i, n in enumerate(self.checks)}
        # For each check, the depends_on_any groups it is a member of (its redundant peers).
        self.peer_groups: dict[str, list[tuple[str, ...]]] = {n: [] for n in graph.groups}
        for gs in graph.groups.values():
            for g in gs:
                if len(g) > 1:
                    for m in g:
                        if g not in self.peer_groups[m]:
                            self.peer_groups[m].append(g)

    # -- restore after a restart ----------------------------------------------------------
    def restore(self, name: str, state: State, since: float, verdict: Verdict, cause: str) -> None:
        """Take the last recorded state so a restart neither re-notifies nor forgets a
        resolution that is still owed. Damping counters start from zero."""
        st = self.checks.get(name)
        if st is None:
            return
        self._settled = False
        st.state, st.since, st.cause = state, since, cause
        if state == "down":
            self._down.add(name)
        else:
            self._down.discard(name)
        st.first_fail = since
        st.verdict = verdict if state == "down" else "ok"
        st.was_suppressed = st.verdict == "suppressed" or (verdict == "pending" and cause != name)
        st.rechecking = st.verdict == "pending" and cause != name
        if st.verdict == "pending":
            st.held_since = since
        # A restored state counts as observed: only fresh failures make a dependency "failing".
        st.observed = state != "unknown"

    # -- feeding results ------------------------------------------------------------------
    def observe(self, name: str, success: bool, at: float, reason: str = "") -> Outcome:
        st = self.checks.get(name)
        out = Outcome()
        if st is None:
            return out
        # What other checks' verdicts can read of this one; when none of it moves, only the
        # checks whose own verdict can move without that (holds waiting out `settle`, and this
        # check) need evaluating: a result of one of a thousand up checks while fifty are
        # down costs what is pending, not what is down.
        before = (st.state, st.failing, st.rechecking, st.cause)
        st.observed = True
        if success:
            st.oks += 1
            st.fails = 0
        else:
            if st.fails == 0 and st.state != "down":
                st.first_fail = at
            st.fails += 1
            st.oks = 0
            st.reason = reason or st.reason
            if st.rechecking:
                st.recheck_fails += 1
        old = st.state
        if success and st.state != "up" and st.oks >= st.damping.successes:
            self._go_up(st, at, out)
        elif not success and st.state != "down" and st.fails >= st.damping.failures:
            st.state, st.since = "down", at
            self._down.add(name)
            st.verdict, st.cause = "pending", name
            st.held_since = at
            st.rechecking = False
        if self._settled and before == (st.state, st.failing, st.rechecking, st.cause):
            self._evaluate_held(name, at, out)
        else:
            self._evaluate_all(at, out)
        if st.state != old:
            out.changes.insert(
                0, Change(name, old, st.state, at, "" if success else st.reason,
                          st.cause if st.state == "down" else "", st.verdict)
            )
        return out

    def tick(self, at: float) -> Outcome:
        """Release holds that waited longer than `settle`; call it every few seconds."""
        out = Outcome()
        self._evaluate_all(at, out)
        return out

    # -- internals ------------------------------------------------------------------------
    def _go_up(self, st: CheckStatus, at: float, out: Outcome) -> None:
        was_down = st.state == "down"
        if was_down and st.verdict == "firing":  # announced: its recovery is owed
            out.notices.append(
                Notice(st.name, "resolved", at, st.since, st.cause, st.reason,
                       first_failure=min(st.first_fail or st.since, st.since))
            )
        if st.verdict != "ok":
            out.verdicts.append(VerdictChange(st.name, st.verdict, "ok", at, ""))
        st.state, st.since, st.verdict, st.cause = "up", at, "ok", ""
        self._down.discard(st.name)
        st.rechecking = st.was_suppressed = False
        st.recheck_fails = 0

    def _group_state(self, group: tuple[str, ...]) -> str:
        states = [self.checks[m] for m in group]
        if all(s.state == "down" for s in states):
            return "down"
        if all(s.state == "down" or s.failing for s in states):
            return "failing"
        return "ok"

    def root_cause(self, name: str, _seen: frozenset[str] = frozenset()) -> str:
        """The deepest down ancestor(s) explaining why `name` is down; itself if none."""
        st = self.checks[name]
        if st.state != "down" or name in _seen:
            return name
        for g in self.graph.groups.get(name, ()):
            if self._group_state(g) == "down":
                roots = sorted({self.root_cause(m, _seen | {name}) for m in g})
                return ",".join(roots)
        if st.rechecking and st.cause and st.cause != name:
            # Its root came back a moment ago and it has not yet proved it is down on its
            # own: it stays attributed to that root (the history records it "unreachable"),
            # and so do the checks behind it. Otherwise a deeper root that recovers first
            # would rename their outage after this check just before they come back.
            return st.cause
        return name

    def _evaluate_all(self, at: float, out: Outcome) -> None:
        self._evaluate_passes(at, out, None)

    def _evaluate_held(self, observed: str, at: float, out: Outcome) -> None:
        """After a result that changed nothing the others read: a suppressed or firing
        check's verdict and cause are a function of the others' states, so until something
        moves only the pending ones (time, their own counters) and the observed check can;
        from the first that does, the passes go on as after any change."""
        self._evaluate_passes(at, out, observed)

    def _evaluate_passes(self, at: float, out: Outcome, held: str | None) -> None:
        # Iterate to a fixed point: a verdict depends on ancestors' states, not verdicts, so
        # one pass settles everything; a second pass is cheap insurance for chains. A held
        # pass skips, up to its first change, what cannot move, and is otherwise the same
        # pass in the same order: the same verdicts in the same order as evaluating all
        # (tests/unit/test_state_held_path.py).
        self._settled = True
        if not self._down:
            return
        for _ in range(2):
            changed = False
            for name in sorted(self._down, key=self._position.__getitem__):
                st = self.checks[name]
                if st.state != "down":
                    continue
                if (held is not None and not changed and name != held
                        and st.verdict != "pending"):
                    continue
                changed |= self._evaluate(st, at, out)
            held = None
            if not changed:
                return
        self._settled = False  # still moving after two passes: the next result looks at all

    def _evaluate(self, st: CheckStatus, at: float, out: Outcome) -> bool:
        groups = [self._group_state(g) for g in self.graph.groups.get(st.name, ())]
        old_verdict, old_cause = st.verdict, st.cause
        cause = self.root_cause(st.name)
        if st.verdict == "firing":
            st.cause = cause  # never retract a sent alert; only keep the cause current
        elif "down" in groups:
            st.verdict, st.cause = "suppressed", cause
            st.rechecking, st.was_suppressed = False, True
        elif st.verdict == "suppressed":
            # Its root came back: give it its own damping to prove it is still down. The cause
            # stays the old root until then, so a recovery now is reported against it.
            st.verdict = "pending"
            st.held_since, st.rechecking, st.recheck_fails = at, True, 0
        elif st.verdict == "pending":
            waited = at - st.held_since >= self.settle
            if st.rechecking:
                confirmed = st.recheck_fails >= st.damping.failures
            else:
                confirmed = "failing" not in groups
            # A check whose latest result succeeded is recovering: keep holding, so a blip
            # of its dependency does not turn into "down" followed at once by "resolved".
            if (confirmed or waited) and st.fails > 0:
                return self._fire(st, at, out, waited, old_verdict) or (
                    (st.verdict, st.cause) != (old_verdict, old_cause))
        if (st.verdict, st.cause) != (old_verdict, old_cause):
            # a suppressed check whose root moved further up (the path check it depends on
            # now suppressed behind the hop in front of it): the history keeps the deepest
            if st.verdict != old_verdict or st.verdict == "suppressed":
                out.verdicts.append(VerdictChange(st.name, old_verdict, st.verdict, at, st.cause))
            return True
        return False

    def _ancestors(self, name: str) -> set[str]:
        seen: set[str] = set()
        todo = [name]
        while todo:
            for p in self.graph.parents(todo.pop()):
                if p not in seen:
                    seen.add(p)
                    todo.append(p)
        return seen

    def _fire(self, st: CheckStatus, at: float, out: Outcome, waited: bool,
              old_verdict: Verdict) -> bool:
        """Announce `st`, together with the rest of its redundant group when that is down
        too; False while holding for a partner that is failing but not yet down."""
        peers = self.peer_groups.get(st.name, [])
        if not waited and any(self.checks[m].failing for g in peers for m in g
                              if m != st.name):
            return False  # its partner is failing: wait to send one notice for both
        members: tuple[str, ...] = (st.name,)
        for g in peers:
            if all(self.checks[m].state == "down" for m in g):
                members = tuple(sorted(g))
                break
        firing_now = [self.checks[m] for m in members
                      if m == st.name or (self.checks[m].verdict == "pending"
                                          and not self.checks[m].rechecking
                                          and self.checks[m].fails > 0)]
        for m in firing_now:
            prev = m.verdict if m is not st else old_verdict
            m.rechecking = False  # first: root_cause() keeps a rechecking check's old root
            m.verdict, m.cause = "firing", self.root_cause(m.name)
            if m is not st:
                out.verdicts.append(VerdictChange(m.name, prev, "firing", at, m.cause))
        roots = set(members)
        affected = tuple(sorted(
            c.name for c in self.checks.values()
            if c.name not in roots and (c.state == "down" or (c.observed and c.fails > 0))
            and self._ancestors(c.name) & roots
            and (c.state != "down" or set(self.root_cause(c.name).split(",")) & roots)
        ))
        first = min(min(m.first_fail or m.since, m.since) for m in
                    (self.checks[x] for x in members))
        out.notices.append(Notice(
            st.name, "firing", at, st.since, st.cause, st.reason,
            first_failure=first, members=members if len(members) > 1 else (),
            affected=affected))
        out.verdicts.append(VerdictChange(st.name, old_verdict, "firing", at, st.cause))
        return True
