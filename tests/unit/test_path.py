"""The path check's pure parts: per-hop summary from answers by TTL, damped route-change
detection with ECMP, config limits and the CLI's refusal of bad input. The network side is in
tests/lab/test_path_lab.py."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from agent.cli import app
from collectors.probe.path import PathConfig, PathTracker, path_hash, same_path, summarise
from collectors.probe.pinger import Reply

T = "10.9.9.9"


def te(addr: str, rtt: float = 0.001) -> Reply:
    return Reply("ttl_exceeded", addr, rtt)


def echo(rtt: float = 0.002) -> Reply:
    return Reply("echo", T, rtt)


def fs(*hops: str | tuple[str, ...]) -> list[frozenset[str]]:
    return [frozenset((h,) if isinstance(h, str) else h) for h in hops]


def test_summary_stops_at_the_target_and_counts_loss() -> None:
    replies = {1: [te("10.0.0.1"), te("10.0.0.1")], 2: [te("10.0.1.1"), None],
               3: [echo(), echo()], 4: [echo(), echo()]}
    hops, reached, longer = summarise(replies, T, 2, None)
    assert reached and not longer
    assert [h.address for h in hops] == ["10.0.0.1", "10.0.1.1", T]
    assert [h.loss for h in hops] == [0.0, 0.5, 0.0]
    assert not any(h.silent for h in hops)


def test_silent_hop_does_not_break_the_path() -> None:
    replies = {1: [te("10.0.0.1")], 2: [None], 3: [echo()]}
    hops, reached, _ = summarise(replies, T, 1, None)
    assert reached and [h.silent for h in hops] == [False, True, False]
    assert hops[1].address == "*"


def test_break_keeps_known_addresses_and_unreachable_stays_on_its_hop() -> None:
    known = fs("10.0.0.1", "10.0.1.1", "10.0.2.1", T)
    # hop 2 has no route on: it answers "unreachable" for itself and for every probe behind
    un = Reply("unreachable", "10.0.1.1", 0.001)
    replies = {1: [te("10.0.0.1")], 2: [un], 3: [un], 4: [un], 5: [un], 6: [un]}
    hops, reached, longer = summarise(replies, T, 1, known)
    assert not reached and not longer
    assert [(h.address, h.loss, h.silent) for h in hops] == [
        ("10.0.0.1", 0.0, False), ("10.0.1.1", 0.0, False), ("10.0.2.1", 1.0, False),
        (T, 1.0, False)]


def test_longer_path_is_noticed() -> None:
    replies = {1: [te("10.0.0.1")], 2: [te("10.0.1.1")]}
    _, reached, longer = summarise(replies, T, 1, None)
    assert not reached and longer


def test_route_change_is_damped_and_counted_once() -> None:
    tr = PathTracker(change_after=2)
    a = fs("10.0.0.1", "10.0.1.1", T)
    b = fs("10.0.0.1", "10.0.7.1", T)
    assert not tr.observe(a)
    assert not tr.observe(b)  # one run on another path: a blip, not a change
    assert not tr.observe(a)
    assert not tr.observe(b)
    assert tr.observe(b)      # second run in a row: the change
    assert tr.changes == 1 and tr.path == b
    for _ in range(5):
        assert not tr.observe(b)
    assert tr.changes == 1


def test_ecmp_alternation_is_one_path() -> None:
    tr = PathTracker(change_after=1)
    tr.observe(fs("10.0.0.1", "10.0.1.1", T))
    for _ in range(6):
        tr.observe(fs("10.0.0.1", ("10.0.1.1", "10.0.7.1"), T))
        tr.observe(fs("10.0.0.1", "10.0.7.1", T))
    assert tr.changes == 0
    assert tr.path == fs("10.0.0.1", ("10.0.1.1", "10.0.7.1"), T)


def test_silent_hops_and_length() -> None:
    assert same_path(fs("a", (), "c"), fs("a", "b", "c"))  # hop 2 silent this run
    assert not same_path(fs("a", "c"), fs("a", "b", "c"))
    assert path_hash(fs("a", ("b", "x"))) == path_hash(fs("a", ("x", "b")))
    assert path_hash(fs("a", "b")) != path_hash(fs("a", "x"))


def test_config_must_fit_its_timeout() -> None:
    with pytest.raises(ValidationError, match="does not fit in timeout"):
        PathConfig.model_validate({"name": "p", "type": "path", "target": T, "probes": 50,
                                   "packet_interval": "200ms", "timeout": "5s"})


@pytest.mark.parametrize("args, message", [
    (["path", T, "--count", "0"], "--count"),
    (["path", T, "--interval", "soon"], "invalid duration"),
    (["path", T, "--max-hops", "0"], "max_hops"),
    (["path", "", "-c", "1"], "target"),
    (["path", T, "--ip-version", "5"], "ip_version"),
])
def test_cli_bad_input_one_line_exit_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("pantau: error:") and message in lines[0]


def test_rate_limited_unreachable_still_names_its_hop() -> None:
    """The one "unreachable" a rate-limited router let through came for a probe two hops
    further: its own hop is alive and the break is behind it."""
    known = fs("10.0.0.1", "10.0.1.1", "10.0.2.1", T)
    un = Reply("unreachable", "10.0.1.1", 0.001)
    replies = {1: [te("10.0.0.1")], 2: [None], 3: [None], 4: [un]}
    hops, reached, _ = summarise(replies, T, 1, known)
    assert not reached
    assert [(h.address, h.alive, h.silent) for h in hops] == [
        ("10.0.0.1", True, False), ("10.0.1.1", True, False), ("10.0.2.1", False, False),
        (T, False, False)]
    assert hops[1].loss == 1.0  # its own probe got nothing: the figure stays honest
