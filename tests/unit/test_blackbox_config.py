"""blackbox.yml read as it is: translated onto pantau's checks, and every option pantau cannot
honour refused with its name and line (never silently ignored)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config.loader import ConfigError, parse_config
from agent.probe.blackbox import (
    BlackboxConfigError,
    BlackboxJudge,
    blackbox_series,
    go_regex,
    ip_addr_hash,
    parse_blackbox,
    render,
)
from collectors.base import Observation, Sample

# modules as in Debian's example blackbox.yml, plus dns
SUPPORTED = """\
modules:
  http_2xx:
    prober: http
  http_post_2xx:
    prober: http
    http:
      method: POST
  tcp_connect:
    prober: tcp
  pop3s_banner:
    prober: tcp
    tcp:
      query_response:
      - expect: "^+OK"
      tls: true
      tls_config:
        insecure_skip_verify: false
  icmp:
    prober: icmp
  dns_a:
    prober: dns
    timeout: 2s
    dns:
      query_name: portal.lab.test
      query_type: A
      valid_rcodes: [NOERROR]
      validate_answer_rrs:
        fail_if_not_matches_regexp: ["portal\\\\.lab\\\\.test\\\\.\\t.*\\tIN\\tA\\t.*"]
"""


def test_supported_modules_translate() -> None:
    mods = {m.name: m for m in parse_blackbox(SUPPORTED)}
    assert mods["http_2xx"].type == "http"
    assert mods["http_post_2xx"].options["method"] == "POST"
    assert mods["pop3s_banner"].options["expect"] == "^OK"  # RE2's repeated anchor
    assert mods["pop3s_banner"].options["tls"] is True
    assert mods["icmp"].options["count"] == 1
    assert mods["dns_a"].timeout == 2.0
    assert mods["dns_a"].options["query_type"] == "A"
    assert "answer" in mods["dns_a"].judge.rr_checks


@pytest.mark.parametrize(("text", "expected"), [
    ("modules:\n  g:\n    prober: grpc\n", "line 3: modules.g.prober: prober 'grpc' is not"),
    ("modules:\n  h:\n    prober: http\n    http:\n      proxy_url: http://p/\n",
     "line 5: modules.h.http.proxy_url: option not supported by pantau"),
    ("modules:\n  h:\n    prober: http\n    http:\n      fail_if_header_matches: []\n",
     "line 5: modules.h.http.fail_if_header_matches: option not supported"),
    ("modules:\n  h:\n    prober: http\n    http:\n      enable_http2: true\n",
     "line 5: modules.h.http.enable_http2: only False is supported"),
    ("modules:\n  h:\n    prober: http\n    http:\n      tls_config:\n        ca: x\n",
     "line 6: modules.h.http.tls_config.ca: option not supported"),
    ("modules:\n  h:\n    prober: http\n    tcp: {}\n",
     "line 4: modules.h.tcp: option not supported by pantau"),
    ("modules:\n  h:\n    prober: http\n    bogus: 1\n", "line 4: modules.h.bogus: unknown option"),
    ("modules:\n  i:\n    prober: icmp\n    icmp:\n      ttl: 5\n",
     "line 5: modules.i.icmp.ttl: option not supported"),
    ("modules:\n  i:\n    prober: icmp\n    icmp:\n      dont_fragment: true\n",
     "line 5: modules.i.icmp.dont_fragment: only False"),
    ("modules:\n  i:\n    prober: icmp\n    icmp:\n      source_ip_address: 10.0.0.1\n",
     "line 5: modules.i.icmp.source_ip_address: option not supported"),
    ("modules:\n  s:\n    prober: tcp\n    tcp:\n      query_response:\n"
     "      - expect: '^SSH-2.0-'\n      - send: hi\n",
     "line 7: modules.s.tcp.query_response.1.send: pantau supports send steps"),
    ("modules:\n  s:\n    prober: tcp\n    tcp:\n      query_response:\n"
     "      - starttls: true\n", "line 6: modules.s.tcp.query_response.0.starttls: option"),
    ("modules:\n  d:\n    prober: dns\n    dns:\n      query_name: x\n      dns_over_tls: true\n",
     "line 6: modules.d.dns.dns_over_tls: only False"),
    ("modules:\n  d:\n    prober: dns\n    dns:\n      query_name: x\n"
     "      validate_answer_rrs:\n        fail_if_foo: []\n",
     "line 7: modules.d.dns.validate_answer_rrs.fail_if_foo: option not supported"),
    ("modules:\n  d:\n    prober: dns\n    dns: {query_type: A}\n",
     "modules.d.dns.query_name: query_name is required"),
    ("modules:\n  h:\n    prober: http\n    timeout: soon\n",
     "line 4: modules.h.timeout: invalid duration"),
    ("modules:\n  h:\n    prober: http\n    http:\n      fail_if_body_matches_regexp: ['(']\n",
     "line 5: modules.h.http.fail_if_body_matches_regexp.0: invalid regex"),
    ("modules: {}\nprober: http\n", "line 2: prober: unknown top-level key"),
])
def test_unsupported_options_are_refused(text: str, expected: str) -> None:
    with pytest.raises(BlackboxConfigError) as e:
        parse_blackbox(text, "bb.yml")
    assert str(e.value).startswith("bb.yml "), e.value
    assert expected in str(e.value), e.value


def _agent(tmp_path: Path, extra: str) -> str:
    (tmp_path / "blackbox.yml").write_text(SUPPORTED)
    return (f"site: s\nhost: {{enabled: false}}\nstate_dir: {tmp_path}\n"
            f"probe_modules_file: {tmp_path / 'blackbox.yml'}\n{extra}")


def test_file_modules_need_an_allow_list(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(_agent(tmp_path, ""))
    assert "has no allowed targets" in e.value.render()
    cfg = parse_config(_agent(tmp_path, "probe_modules_file_targets: [127.0.0.0/8]\n"
                              "probe_modules_file_module_targets: {icmp: [10.0.0.1]}\n"))
    assert cfg.probe_modules["http_2xx"].names == "blackbox"
    assert cfg.probe_modules["http_2xx"].allows("http://127.0.0.1:8080/")
    assert not cfg.probe_modules["http_2xx"].allows("http://10.0.0.1/")
    assert cfg.probe_modules["icmp"].allows("10.0.0.1")
    assert not cfg.probe_modules["icmp"].allows("127.0.0.1")
    with pytest.raises(ConfigError) as e:
        parse_config(_agent(tmp_path, "probe_modules_file_targets: [127.0.0.0/8]\n"
                            "probe_modules_file_module_targets: {nosuch: [10.0.0.1]}\n"))
    assert "module 'nosuch' is not in" in e.value.render()


def test_go_regex() -> None:
    assert go_regex("^+OK") == "^OK"
    assert go_regex("end\\z") == "end\\Z"
    assert go_regex("a\\\\z") == "a\\\\z"  # an escaped backslash, then z


def test_ip_addr_hash_is_blackbox_fnv32a() -> None:
    # the value blackbox_exporter 0.23 shows for 127.0.0.1
    assert ip_addr_hash("127.0.0.1") == 3668918509.0


def test_failed_resolution_has_blackbox_shape() -> None:
    obs = Observation(False, [Sample.of("pantau_http_status_code", 0),
                              Sample.of("pantau_http_phase_seconds", 0.001, phase="dns")])
    ok, series = blackbox_series(BlackboxJudge("http"), obs, 0.002)
    names = {(n, tuple(sorted(ls.items()))) for n, ls, _ in series}
    assert not ok
    assert ("probe_http_duration_seconds", (("phase", "resolve"),)) in names
    assert ("probe_http_duration_seconds", (("phase", "connect"),)) not in names
    body = render(series).decode()
    assert "probe_ip_protocol 0\n" in body and "probe_success 0\n" in body


def test_fail_if_not_ssl_judged_from_the_run() -> None:
    obs = Observation(True, [Sample.of("pantau_http_status_code", 200)],
                      details={"address": "127.0.0.1", "family": 2, "final_url": "http://x/",
                               "http_version": "HTTP/1.1"})
    ok, _ = blackbox_series(BlackboxJudge("http", fail_if_not_ssl=True), obs, 0.01)
    assert not ok
    ok, series = blackbox_series(BlackboxJudge("http", valid_http_versions=["HTTP/1.1"]),
                                 obs, 0.01)
    assert ok and ("probe_http_version", {}, 1.1) in series
