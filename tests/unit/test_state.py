"""State machine: damping, dependencies, root cause, the settle hold, flapping."""

from __future__ import annotations

import pytest

from agent.alerting.state import Damping, Graph, Outcome, StateMachine

# office: gateway -> isp-a / isp-b (backing each other up) -> portal, dns
DEPS = {"isp-a": ["gateway"], "isp-b": ["gateway"], "gateway": [], "portal": [], "dns": []}
ANY = {"portal": ["isp-a", "isp-b"], "dns": ["isp-a", "isp-b"]}
NAMES = ["gateway", "isp-a", "isp-b", "portal", "dns"]


def machine(settle: float = 60.0, d: Damping = Damping(3, 2)) -> StateMachine:
    return StateMachine(Graph.build(NAMES, DEPS, ANY), default=d, settle=settle)


def feed(m: StateMachine, t: float, **results: bool) -> Outcome:
    out = Outcome()
    for name, ok in results.items():
        out.extend(m.observe(name.replace("_", "-"), ok, t, "" if ok else f"{name} timeout"))
    return out


def all_up(m: StateMachine, t: float = 0.0) -> float:
    for i in range(2):
        feed(m, t + i, gateway=True, isp_a=True, isp_b=True, portal=True, dns=True)
    assert all(s.state == "up" for s in m.checks.values())
    return t + 2


def test_damping_needs_consecutive_failures_and_successes() -> None:
    m = machine()
    t = all_up(m)
    assert not feed(m, t, gateway=False).changes
    assert not feed(m, t + 1, gateway=False).changes
    out = feed(m, t + 2, gateway=False)
    assert [(c.check, c.old, c.new) for c in out.changes] == [("gateway", "up", "down")]
    assert [(n.check, n.kind) for n in out.notices] == [("gateway", "firing")]
    assert not feed(m, t + 3, gateway=True).changes  # one success is not enough
    out = feed(m, t + 4, gateway=True)
    assert [(c.old, c.new) for c in out.changes] == [("down", "up")]
    assert [(n.check, n.kind) for n in out.notices] == [("gateway", "resolved")]


def test_unknown_to_up_is_silent_and_unknown_to_down_notifies() -> None:
    m = StateMachine(Graph.build(["a"], {}), default=Damping(2, 2))
    assert m.checks["a"].state == "unknown"
    out = feed(m, 0, a=True)
    out.extend(feed(m, 1, a=True))
    assert [(c.old, c.new) for c in out.changes] == [("unknown", "up")]
    assert out.notices == []
    m2 = StateMachine(Graph.build(["a"], {}), default=Damping(2, 2))
    out = feed(m2, 0, a=False)
    out.extend(feed(m2, 1, a=False))
    assert [n.kind for n in out.notices] == ["firing"]


def test_flapping_faster_than_damping_never_changes_state() -> None:
    m = machine()
    t = all_up(m)
    out = Outcome()
    for i in range(200):
        out.extend(feed(m, t + i, isp_a=(i % 2 == 0)))
        out.extend(feed(m, t + i, portal=(i % 3 != 0)))
    assert out.changes == [] and out.notices == []


def test_uplinks_back_each_other_up() -> None:
    m = machine()
    t = all_up(m)
    out = Outcome()
    for i in range(3):
        out.extend(feed(m, t + i, isp_a=False))
    # portal keeps working through isp-b: only isp-a is a root cause
    assert [(n.check, n.kind) for n in out.notices] == [("isp-a", "firing")]
    assert m.checks["portal"].state == "up"


def test_cut_both_uplinks_one_notification_for_the_group_and_suppression() -> None:
    m = machine()
    t = all_up(m)
    out = Outcome()
    # portal and dns fail FIRST (they run more often); the uplinks reach damping later
    for i in range(3):
        out.extend(feed(m, t + i, portal=False, dns=False, isp_a=False, isp_b=False))
    firing = [n for n in out.notices if n.kind == "firing"]
    assert len(firing) == 1
    assert firing[0].members == ("isp-a", "isp-b")
    assert firing[0].affected == ("dns", "portal")
    assert firing[0].first_failure == t and firing[0].since == t + 2
    assert m.checks["isp-a"].verdict == m.checks["isp-b"].verdict == "firing"
    assert m.checks["portal"].verdict == "suppressed"
    assert m.root_cause("portal") == "isp-a,isp-b"
    assert m.checks["dns"].verdict == "suppressed"


def test_root_cause_is_deepest_down_ancestor_and_only_root_notifies() -> None:
    m = machine()
    t = all_up(m)
    out = Outcome()
    for i in range(3):
        out.extend(feed(m, t + i, dns=False, portal=False, isp_a=False, isp_b=False,
                        gateway=False))
    assert [(n.check, n.kind) for n in out.notices] == [("gateway", "firing")]
    for name in ("isp-a", "isp-b", "portal", "dns"):
        assert m.checks[name].verdict == "suppressed", name
        assert m.root_cause(name) == "gateway"
    assert out.notices[0].affected == ("dns", "isp-a", "isp-b", "portal")
    # recovery: everything comes back -> a resolution only for what was announced; the
    # suppressed checks were named in the gateway's alert and say nothing on their own
    out = Outcome()
    for i in range(2):
        out.extend(feed(m, t + 10 + i, gateway=True, isp_a=True, isp_b=True, portal=True,
                        dns=True))
    assert [(n.check, n.kind) for n in out.notices] == [("gateway", "resolved")]


def test_suppressed_check_still_down_after_root_recovers_notifies_on_its_own() -> None:
    m = machine()
    t = all_up(m)
    for i in range(3):
        feed(m, t + i, portal=False, isp_a=False, isp_b=False)
    assert m.checks["portal"].verdict == "suppressed"
    out = Outcome()
    for i in range(2):
        out.extend(feed(m, t + 10 + i, isp_a=True, isp_b=True, portal=False))
    # uplinks resolved; portal still failing but must prove it with its own damping
    assert [n.check for n in out.notices if n.kind == "firing"] == []
    out.extend(feed(m, t + 12, portal=False))
    assert [n.check for n in out.notices if n.kind == "firing"] == []
    out.extend(feed(m, t + 13, portal=False))  # third failure since the root came back
    firing = [n for n in out.notices if n.kind == "firing"]
    assert [(n.check, n.cause) for n in firing] == [("portal", "portal")]
    out = feed(m, t + 14, portal=True)
    out.extend(feed(m, t + 15, portal=True))
    assert [(n.check, n.kind, n.was_suppressed) for n in out.notices] == [
        ("portal", "resolved", False)]


def test_hold_is_bounded_by_settle() -> None:
    m = machine(settle=30)
    t = all_up(m)
    out = Outcome()
    for i in range(3):
        out.extend(feed(m, t + i, portal=False))
    # only one uplink failing once: portal's group (isp-a, isp-b) is not failing -> fires now
    assert [n.check for n in out.notices] == ["portal"]
    m = machine(settle=30)
    t = all_up(m)
    out = Outcome()
    feed(m, t, isp_a=False, isp_b=False)  # uplinks failing, not yet down
    for i in range(3):
        out.extend(feed(m, t + i, dns=False))
    assert out.notices == [] and m.checks["dns"].verdict == "pending"
    assert not m.tick(t + 20).notices
    late = m.tick(t + 2 + 30)
    assert [n.check for n in late.notices] == ["dns"]


def test_pending_check_recovering_sends_nothing() -> None:
    m = machine()
    t = all_up(m)
    feed(m, t, isp_a=False, isp_b=False)
    for i in range(3):
        feed(m, t + i, dns=False)
    out = feed(m, t + 3, dns=True, isp_a=True, isp_b=True)
    out.extend(feed(m, t + 4, dns=True))
    assert out.notices == []
    assert m.checks["dns"].state == "up"


def test_restore_keeps_owed_resolution() -> None:
    m = machine()
    m.restore("gateway", "down", 100.0, "firing", "gateway")
    out = feed(m, 200, gateway=True)
    out.extend(feed(m, 201, gateway=True))
    assert [(n.check, n.kind, n.since) for n in out.notices] == [("gateway", "resolved", 100.0)]


def test_graph_rejects_unknown_and_cycles() -> None:
    with pytest.raises(ValueError, match="unknown check 'nope'"):
        Graph.build(["a"], {"a": ["nope"]})
    with pytest.raises(ValueError, match=r"^dependency cycle: a -> b -> a$"):
        Graph.build(["a", "b"], {"a": []}, {"a": ["b"], "b": ["a"]})
    # parents are walked sorted, whatever order the config listed them in
    with pytest.raises(ValueError, match=r"^dependency cycle: b -> c -> d -> b$"):
        Graph.build(["b", "c", "d"], {"b": ["d", "c"], "c": ["d"], "d": ["b"]})
    with pytest.raises(ValueError, match="itself"):
        Graph.build(["a"], {}, {"a": ["a"]})


def test_single_uplink_down_alone_is_not_a_group_alert() -> None:
    m = machine()
    t = all_up(m)
    out = Outcome()
    for i in range(3):
        out.extend(feed(m, t + i, isp_a=False))
    (n,) = out.notices
    assert (n.check, n.members, n.affected) == ("isp-a", (), ())


def test_second_uplink_joining_later_announces_the_whole_group() -> None:
    m = machine(settle=60)
    t = all_up(m)
    for i in range(3):
        feed(m, t + i, isp_a=False)  # isp-a announced on its own
    out = Outcome()
    for i in range(3):
        out.extend(feed(m, t + 100 + i, isp_b=False, portal=False))
    (n,) = [x for x in out.notices if x.kind == "firing"]
    assert n.check == "isp-b" and n.members == ("isp-a", "isp-b")
    assert n.affected == ("portal",)
    assert n.first_failure == t  # isp-a's first failure: the group has been failing since


def test_partner_blip_holds_at_most_settle() -> None:
    m = machine(settle=30)
    t = all_up(m)
    out = Outcome()
    out.extend(feed(m, t, isp_a=False))
    out.extend(feed(m, t + 1, isp_a=False))
    out.extend(feed(m, t + 2, isp_b=False, isp_a=False))  # isp-b fails once, isp-a is down
    assert out.notices == [] and m.checks["isp-a"].verdict == "pending"  # held for its partner
    out = feed(m, t + 3, isp_b=True)  # partner fine again: isp-a is announced alone
    assert [(n.check, n.members) for n in out.notices] == [("isp-a", ())]
    # a partner that keeps failing without going down holds it no longer than settle
    m2 = machine(settle=30)
    t = all_up(m2)
    for i in range(3):
        feed(m2, t + i, isp_b=False, isp_a=False)
        feed(m2, t + i, isp_b=True) if i < 2 else None
    assert m2.checks["isp-a"].verdict == "pending"
    out = m2.tick(t + 2 + 29)
    assert out.notices == []
    out = m2.tick(t + 2 + 30)
    assert [(n.check, n.members) for n in out.notices] == [("isp-a", ())]


def test_never_announced_outage_has_no_recovery() -> None:
    m = machine(settle=300)
    t = all_up(m)
    out = Outcome()
    out.extend(feed(m, t, dns=False))
    for i in (1, 2):  # dns down, held pending while both uplinks are failing (not yet down)
        out.extend(feed(m, t + i, dns=False, isp_a=False, isp_b=False))
    assert m.checks["dns"].state == "down" and m.checks["dns"].verdict == "pending"
    for i in range(2):
        out.extend(feed(m, t + 3 + i, dns=True, isp_a=True, isp_b=True))
    assert m.checks["dns"].state == "up"
    assert out.notices == []
