"""The shared helpers of collectors/common: one set of rules for every caller."""

from __future__ import annotations

import random
import ssl
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from collectors.common import procfs
from collectors.common.hostport import join_host_port, split_host_port
from collectors.common.retry import backoff
from collectors.common.timefmt import format_span, format_time, resolve_zone
from collectors.common.tls import TLSConfig


@pytest.mark.parametrize(("text", "default", "expected"), [
    ("10.0.0.1:161", None, ("10.0.0.1", 161)),
    ("  sw1.kantor:1161 ", None, ("sw1.kantor", 1161)),
    ("[fd00::1]:22", None, ("fd00::1", 22)),
    ("[fd00::1]", 22, ("fd00::1", 22)),
    ("fd00::1", 53, ("fd00::1", 53)),
    ("fe80::1%eth0", 53, ("fe80::1%eth0", 53)),
    ("router", 22, ("router", 22)),
    ("h:65535", None, ("h", 65535)),
])
def test_split_host_port_accepts(text: str, default: int | None,
                                 expected: tuple[str, int]) -> None:
    assert split_host_port(text, default) == expected


@pytest.mark.parametrize(("text", "default", "message"), [
    ("h:0", None, "port must be 1-65535"),
    ("h:65536", None, "port must be 1-65535"),
    ("h:x", None, "port must be 1-65535"),
    ("h:", None, "empty port"),
    ("h", None, "use HOST:PORT"),
    (":80", None, "empty host"),
    ("[fd00::1", None, "missing ']'"),
    ("[fd00::1]x", None, "use [IPv6]:PORT"),
    ("[fd00::1]:", None, "empty port"),
    ("[not-v6]:22", None, "is not an IPv6 address"),
    ("1:2:3", 22, "is not an IPv6 address"),
    ("-oProxyCommand=x", 22, "bad host"),
    ("a b:22", None, "bad host"),
])
def test_split_host_port_refuses_naming_the_reason(text: str, default: int | None,
                                                   message: str) -> None:
    with pytest.raises(ValueError, match="invalid SSH target") as e:
        split_host_port(text, default, what="SSH target")
    assert message in str(e.value)


def test_listen_addresses_may_omit_the_host_and_use_port_zero() -> None:
    assert split_host_port(":9877", empty_host="0.0.0.0") == ("0.0.0.0", 9877)
    assert split_host_port("127.0.0.1:0", allow_port_zero=True) == ("127.0.0.1", 0)
    assert join_host_port("fd00::1", 9877) == "[fd00::1]:9877"
    assert join_host_port("10.0.0.1", 9877) == "10.0.0.1:9877"


def test_one_duration_wording_for_alerts_and_reports() -> None:
    from agent.reports.render import fmt_duration

    # 90.6 s: the alert and the report round it once, the same way
    assert format_span(90.6, "id") == fmt_duration(90.6, "id") == "1 mnt 31 dtk"
    assert format_span(90.6, "en") == fmt_duration(90.6, "en") == "1 min 31 s"
    assert format_span(163, "id") == "2 mnt 43 dtk" and format_span(163, "en") == "2 min 43 s"
    assert format_span(2 * 86400 + 3 * 3600 + 59, "id") == "2 hari 3 jam"
    assert format_span(2 * 86400 + 3 * 3600 + 59, "en") == "2 d 3 h"
    assert format_span(3600 + 5, "id") == "1 jam 5 dtk"
    assert format_span(0.2, "id") == "0 dtk" and format_span(0.2, "en") == "0 s"


def test_zones_by_their_everyday_names() -> None:
    assert resolve_zone("wita") == ZoneInfo("Asia/Makassar")
    assert resolve_zone("Asia/Jayapura") == ZoneInfo("Asia/Jayapura")
    with pytest.raises(ValueError, match="unknown time zone 'Mars'"):
        resolve_zone("Mars")
    # 2026-11-03 07:05:09 UTC
    assert format_time(1793689509, resolve_zone("WIB"), "id") == "3 Nov 2026 14:05:09 WIB"


def test_backoff_doubles_to_the_cap_with_jitter_in_the_upper_half() -> None:
    rng = random.Random(7)
    for attempt, step in ((1, 5.0), (2, 10.0), (3, 20.0), (10, 300.0)):
        delays = [backoff(attempt, 5.0, 300.0, rng) for _ in range(200)]
        assert all(step / 2 <= d <= step for d in delays)
        assert max(delays) - min(delays) > step / 4  # jittered, not lockstep


def test_tls_config_uses_prometheus_names_and_checks_files(tmp_path: Path) -> None:
    ctx = TLSConfig.model_validate({"insecure_skip_verify": True,
                                    "min_version": "TLS12"}).client_context()
    assert ctx.verify_mode == ssl.CERT_NONE and ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert TLSConfig().client_context().verify_mode == ssl.CERT_REQUIRED
    with pytest.raises(ValidationError, match="set cert_file and key_file together"):
        TLSConfig.model_validate({"cert_file": "/etc/hostname"})
    with pytest.raises(ValidationError, match=r"ca_file: /nope\.pem is not a readable file"):
        TLSConfig.model_validate({"ca_file": "/nope.pem"})
    with pytest.raises(ValidationError, match="Extra inputs"):
        TLSConfig.model_validate({"ca": "/etc/hostname"})
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(ValueError, match="tls_config: cannot load certificates"):
        TLSConfig(ca_file=bad).client_context()


def test_proc_parsers_shared_by_host_and_ssh() -> None:
    assert procfs.loadavg("0.50 1.25 2.00 1/300 4242\n") == (0.5, 1.25, 2.0)
    fields = procfs.meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nHugePages_Total: 0\n")
    assert [(f.key, f.value, f.has_unit) for f in fields] == [
        ("MemTotal", 1024000.0, True), ("MemFree", 102400.0, True),
        ("HugePages_Total", 0.0, False)]
    assert procfs.mem_available(fields) == (1024000.0, 102400.0)  # no MemAvailable: old kernel
    mounts = procfs.mounts("/dev/sda1 /srv/my\\040data ext4 ro,relatime 0 0\n")
    assert mounts[0].mountpoint == "/srv/my data" and mounts[0].readonly == 1.0
    for bad, parse in (("x", procfs.loadavg), ("MemTotal: lots kB", procfs.meminfo),
                       ("dev /x\n", procfs.mounts), ("", procfs.uptime)):
        with pytest.raises(ValueError, match=r"^/proc/"):
            parse(bad)  # type: ignore[operator]
