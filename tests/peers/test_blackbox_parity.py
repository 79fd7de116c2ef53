"""pantau's /probe for modules from a blackbox.yml, side by side with the real
prometheus-blackbox-exporter (Debian's 0.23) on the same file and the same loopback targets:
the same metric names and label sets, the same success verdicts, status codes, IP facts,
certificate expiry (exact) and record counts; durations within a stated tolerance."""

from __future__ import annotations

import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest

from tests.helpers.agent import parse_metrics, run_agent
from tests.helpers.probe_peers import ProbePeers, blackbox_yml, probe_peers, run_blackbox

# Both probe loopback in well under a millisecond; Python's own work (TLS context, first
# import of dnspython) adds up to a few hundred: durations must agree within this.
DURATION_TOLERANCE = 0.5
# Values that differ by nature, not by meaning: durations, and the Go zero time that
# blackbox reports for probe_ssl_last_chain_expiry when no chain was verified.
DURATIONS = {"probe_duration_seconds", "probe_dns_lookup_time_seconds",
             "probe_http_duration_seconds", "probe_icmp_duration_seconds",
             "probe_dns_duration_seconds"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ProbePeers, str, str]]:
    tmp = tmp_path_factory.mktemp("bbparity")
    with probe_peers(tmp) as peers:
        bb_file = tmp / "blackbox.yml"
        bb_file.write_text(blackbox_yml(peers.ca))
        cfg = {"site": "kantor-bb", "host": {"enabled": False},
               "probe_modules_file": str(bb_file),
               "probe_modules_file_targets": ["127.0.0.0/8"]}
        with run_blackbox(bb_file, tmp / "blackbox.log") as bb_url, \
                run_agent(cfg, tmp / "agent") as agent:
            yield peers, bb_url, agent.url


def _probe(base: str, module: str, target: str) -> dict[tuple[str, frozenset[tuple[str, str]]],
                                                        float]:
    q = urllib.parse.urlencode({"module": module, "target": target})
    with urllib.request.urlopen(f"{base}/probe?{q}", timeout=30) as r:
        body = r.read().decode()
    return {(name, frozenset(labels)): v for (name, labels), v in parse_metrics(body).items()}


def _cases(p: ProbePeers) -> list[tuple[str, str, int]]:
    """(module, target, expected probe_success)"""
    return [
        ("http_2xx", p.http + "/", 1),
        ("http_2xx", p.http + "/redirect", 1),
        ("http_2xx", p.http + "/error", 0),
        ("http_2xx", "http://127.0.0.1:1/", 0),
        ("http_post_2xx", p.http + "/", 1),
        ("http_regex", p.http + "/", 0),
        ("https_ca", p.https + "/", 1),
        ("https_ca", p.https_bad + "/", 0),
        ("https_ca", p.http + "/", 0),          # fail_if_not_ssl
        ("http_2xx", p.https_bad + "/", 0),     # system CAs: unknown authority
        ("tcp_connect", p.http.removeprefix("http://"), 1),
        ("tcp_connect", "127.0.0.1:1", 0),
        # Debian's example: RE2 reads "^+OK" as a repeated anchor and "OK", which a "+OK"
        # banner does not match -- blackbox fails it, and so must pantau
        ("pop3s_banner", p.pop3s, 0),
        ("pop3s_ok", p.pop3s, 1),
        ("icmp", "127.0.0.1", 1),
        ("dns_a", p.dns, 1),
        ("dns_nx", p.dns, 0),
    ]


def test_side_by_side_with_blackbox_exporter(setup: tuple[ProbePeers, str, str]) -> None:
    peers, bb_url, pantau_url = setup
    problems: list[str] = []
    compared = 0
    for module, target, want in _cases(peers):
        theirs = _probe(bb_url, module, target)
        ours = _probe(pantau_url, module, target)
        case = f"{module} {target}"
        if set(theirs) != set(ours):
            problems.append(f"{case}: only blackbox {sorted(set(theirs) - set(ours))}, "
                            f"only pantau {sorted(set(ours) - set(theirs))}")
            continue
        success = ours[("probe_success", frozenset())]
        if theirs[("probe_success", frozenset())] != want or success != want:
            problems.append(f"{case}: probe_success blackbox "
                            f"{theirs[('probe_success', frozenset())]} pantau {success}, "
                            f"expected {want}")
        for key, v in theirs.items():
            compared += 1
            name = key[0]
            if name in DURATIONS:
                if abs(v - ours[key]) > DURATION_TOLERANCE:
                    problems.append(f"{case}: {name}{dict(key[1])} {v} vs {ours[key]}")
            elif v != ours[key]:
                problems.append(f"{case}: {name}{dict(key[1])} blackbox {v} pantau {ours[key]}")
    assert not problems, "\n".join(problems)
    # every case was compared on its whole family set, not on a truncated body
    assert compared >= 200, compared
    print(f"{len(_cases(peers))} probes, {compared} series agree with blackbox_exporter")


def test_probe_stays_inside_the_allow_list(setup: tuple[ProbePeers, str, str]) -> None:
    _, _, pantau_url = setup
    q = urllib.parse.urlencode({"module": "http_2xx", "target": "http://10.0.0.1/"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{pantau_url}/probe?{q}", timeout=10)
    assert e.value.code == 403

