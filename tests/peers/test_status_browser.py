"""The live status page at / in a real browser: Debian's headless Chromium, started here and
driven over the DevTools protocol, against a running `pantau run` whose tcp checks reach
listeners on loopback that the test cuts and restores.

Screenshots stay in the test's tmp dir (status-*.png) as artefacts; the assertions are on the
DOM the page builds from /api/v1/status."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.i18n import parse_reason, reason_text
from agent.status.api import STATUS_MAX_AGE
from tests.helpers.agent import RunningAgent, free_port, run_agent
from tests.helpers.browser import Browser
from tests.helpers.listener import TcpListener
from tests.helpers.waiting import wait_until

INTERVAL, TIMEOUT, REFRESH = 1.0, 0.5, 1.0
CHECK = {"type": "tcp", "interval": f"{INTERVAL:g}s", "timeout": f"{TIMEOUT * 1000:g}ms"}
LONG_NAME = "layanan-perizinan-online-dinas-penanaman-modal-kab-contoh-01"
assert len(LONG_NAME) == 60

STATES_JS = ("Object.fromEntries([...document.querySelectorAll('#groups li.item')]"
             ".map(e => [e.dataset.name, e.dataset.state]))")
OPEN_JS = ("Object.fromEntries([...document.querySelectorAll('#open li.item')]"
           ".map(e => [e.dataset.name, e.innerText]))")
OVERFLOW_JS = """(() => {
  const vw = document.documentElement.clientWidth;
  const bad = [];
  if (document.documentElement.scrollWidth > vw) bad.push('page ' +
      document.documentElement.scrollWidth + ' > ' + vw);
  for (const li of document.querySelectorAll('li.item')) {
    const r = li.getBoundingClientRect();
    if (r.right > vw + 0.5 || r.left < -0.5) bad.push(li.dataset.name + ' li ' + r.right);
    for (const c of li.querySelectorAll('.name, .meta, .why, svg')) {
      const q = c.getBoundingClientRect();
      if (q.right > r.right + 0.5) bad.push(li.dataset.name + ' ' + c.className.baseVal
          + c.className + ' ' + q.right + ' > ' + r.right);
    }
  }
  return bad;
})()"""


@pytest.fixture
def office() -> Iterator[dict[str, TcpListener]]:
    """gateway, ISP uplink, DNS resolver and the permit portal, each a real listener."""
    ls = {n: TcpListener().start() for n in ("gateway", "uplink", "dns", "portal")}
    yield ls
    for listener in ls.values():
        listener.stop()


def office_config(ls: dict[str, TcpListener]) -> dict[str, Any]:
    return {
        "site": "dpmptsp-kab-contoh", "host": {"interval": "2s", "timeout": "1s"},
        "alerts": {"damping": {"failures": 1, "successes": 1}, "settle": "1s"},
        "status_page": {"refresh": f"{REFRESH:g}s", "groups": {"dns": "dns"}},
        "reports": {"maintenance": [{"start": "2026-01-01T00:00:00+07:00",
                                     "end": "2099-01-01T00:00:00+07:00",
                                     "checks": ["printer"], "reason": "ganti toner"}]},
        "checks": [
            {**CHECK, "name": "gateway", "target": ls["gateway"].target},
            {**CHECK, "name": "uplink-telkom", "target": ls["uplink"].target,
             "depends_on": ["gateway"]},
            {**CHECK, "name": "dns", "target": ls["dns"].target,
             "depends_on": ["uplink-telkom"]},
            {**CHECK, "name": "portal-oss", "target": ls["portal"].target,
             "depends_on": ["dns"]},
            {**CHECK, "name": "printer", "target": ls["gateway"].target},
        ],
    }


def agent_status(agent: RunningAgent) -> dict[str, Any]:
    status, body = agent.get("/api/v1/status?spark=0")
    assert status == 200
    return dict(json.loads(body))


def open_page(b: Browser, agent: RunningAgent, query: str = "") -> None:
    b.navigate(agent.url + "/" + query)
    b.wait_js("document.querySelectorAll('#groups li.item').length > 0", 10, "page drawn")


def test_all_up_then_isp_cut_then_restored_without_reload(
        tmp_path: Path, office: dict[str, TcpListener]) -> None:
    with run_agent(office_config(office), tmp_path / "agent") as agent, \
            Browser(tmp_path) as b:
        status, body = agent.get("/")
        assert status == 200 and len(body) < 100_000, len(body)
        open_page(b, agent)
        states = b.wait_js(f"(s => Object.values(s).length === 6 && Object.values(s).every("
                           f"v => v === 'up' || v === 'maintenance') && s)({STATES_JS})", 15,
                           "all up")
        assert states == {"host": "up", "gateway": "up", "uplink-telkom": "up", "dns": "up",
                          "portal-oss": "up", "printer": "maintenance"}
        banner = b.js("document.querySelector('#maint .banner').innerText")
        assert banner.startswith("Pemeliharaan terjadwal sampai 1 Jan 2099")
        assert "printer" in banner and "ganti toner" in banner
        assert "PEMELIHARAAN" in b.js(
            "document.querySelector('li[data-name=printer] .state').innerText").upper()
        assert b.js("document.documentElement.lang") == "id"
        assert b.js("document.querySelector('#open').innerText").strip() == \
            "Tidak ada gangguan."
        groups = b.js("[...document.querySelectorAll('section.group')].map(s => "
                      "[s.dataset.group, s.querySelector('h2').innerText])")
        assert groups == [["host", "Server ini"], ["gateway", "Gateway"],
                          ["uplinks", "Uplink ISP"], ["dns", "DNS"], ["services", "Layanan"]]
        badge = b.js("document.querySelector('li[data-name=gateway] .state').innerText")
        assert "NAIK" in badge.upper()  # the state is a word, not only a colour
        assert b.js("document.querySelector('li[data-name=gateway] svg.spark title')"
                    ".textContent").startswith("Waktu respons satu jam terakhir")
        b.screenshot(tmp_path / "status-1-all-up.png")
        b.js("window.__sameDocument = true")

        cut = time.monotonic()
        office["uplink"].stop()  # the ISP link: the uplink and everything behind it fail
        office["dns"].stop()
        office["portal"].stop()
        # one interval + timeout for the result, one refresh for the page to fetch it, and
        # the age an /api/v1/status answer may have
        limit = INTERVAL + TIMEOUT + REFRESH + STATUS_MAX_AGE + 1.0
        opened = b.wait_js(
            f"(o => o['uplink-telkom'] && o['dns'] && o['portal-oss'] && o)({OPEN_JS})",
            limit + 5, "the cut shown")
        took = time.monotonic() - cut
        assert took <= limit, f"shown after {took:.1f}s, limit {limit:.1f}s"
        print(f"ISP cut shown on the page after {took:.2f} s (limit {limit:.1f} s)")
        assert b.js("window.__sameDocument") is True  # no reload happened
        states = b.js(STATES_JS)
        assert states == {"host": "up", "gateway": "up", "uplink-telkom": "down",
                          "dns": "unreachable", "portal-oss": "unreachable",
                          "printer": "maintenance"}
        assert "TURUN" in opened["uplink-telkom"].upper()
        # the reason through the reason codes: Indonesian words, not the collector's English
        assert "alasan: koneksi ditolak" in opened["uplink-telkom"], opened["uplink-telkom"]
        for name in ("dns", "portal-oss"):
            assert "TAK TERJANGKAU" in opened[name].upper()  # the state word
            assert "ditekan karena akar masalah uplink-telkom" in opened[name]
        order = b.js("[...document.querySelectorAll('#open li.item')].map(e => e.dataset.name)")
        assert order[0] == "uplink-telkom"  # the root cause first
        assert "1 turun" in b.js("document.querySelector('#summary').innerText")
        b.screenshot(tmp_path / "status-2-isp-cut.png")

        for name in ("uplink", "dns", "portal"):
            office[name].start()
        b.wait_js(f"Object.values({STATES_JS}).filter(v => v === 'up').length === 5",
                  limit + 5, "back up")
        assert b.js("document.querySelector('#open').innerText").strip() == \
            "Tidak ada gangguan."
        assert b.js("window.__sameDocument") is True
        b.screenshot(tmp_path / "status-3-restored.png")

        # nothing but the agent itself was ever asked for anything
        external = [u for u in b.requests if not u.startswith(agent.url)]
        assert not external, external

        # English by the switch and by Accept-Language
        open_page(b, agent, "?lang=en")
        assert b.js("document.documentElement.lang") == "en"
        assert b.js("document.querySelector('#open').innerText").strip() == "No open outages."
        b.call("Network.setUserAgentOverride", userAgent="pantau-test",
               acceptLanguage="en-US,en;q=0.9")
        open_page(b, agent)
        assert b.js("document.documentElement.lang") == "en"
        assert "UP" in b.js("document.querySelector('li[data-name=gateway] .state')"
                            ".innerText").upper()


def big_site(listener: TcpListener) -> dict[str, Any]:
    dead = f"127.0.0.1:{free_port()}"
    slow = {"type": "tcp", "interval": "5s", "timeout": "1s"}
    checks: list[dict[str, Any]] = [{**slow, "name": "gateway", "target": listener.target},
                                    {**slow, "name": LONG_NAME, "target": dead,
                                     "depends_on": ["gateway"]}]
    for i in range(198):
        checks.append({**slow, "name": f"layanan-{i:03d}",
                       "target": dead if i % 40 == 7 else listener.target,
                       "depends_on": [LONG_NAME] if i % 50 == 7 else ["gateway"]})
    return {"site": "mal-pelayanan-publik-kabupaten-contoh-dengan-nama-yang-panjang",
            "host": {"interval": "5s", "timeout": "1s"},
            "alerts": {"damping": {"failures": 1, "successes": 1}, "settle": "1s"},
            "checks": checks}


def test_long_name_and_200_checks_keep_the_layout(tmp_path: Path) -> None:
    with TcpListener() as listener, \
            run_agent(big_site(listener), tmp_path / "agent", ready_timeout=60) as agent, \
            Browser(tmp_path) as b:
        status, body = agent.get("/")
        assert status == 200 and len(body) < 100_000
        for label, (w, h, mobile) in {"desktop": (1280, 900, False),
                                      "phone": (390, 844, True)}.items():
            b.viewport(w, h, mobile)
            open_page(b, agent)
            b.wait_js(f"Object.keys({STATES_JS}).length === 201 && !!document.querySelector("
                      f"'#open li[data-name=\"{LONG_NAME}\"]')", 20, "all 201 drawn")
            assert b.js(OVERFLOW_JS) == [], label
            name_box = b.js(f"(e => {{ const r = e.getBoundingClientRect(); return [r.width,"
                            f" r.height, e.innerText]; }})(document.querySelector("
                            f"'#open li[data-name=\"{LONG_NAME}\"] .name'))")
            assert name_box[2] == LONG_NAME and name_box[0] <= w
            b.screenshot(tmp_path / f"status-200-{label}.png")
            if label == "phone":
                b.screenshot(tmp_path / "status-200-phone-full.png", full_page=True)
        print(f"screenshots in {tmp_path}")


def test_acknowledgement_and_snmp_devices_on_the_page(tmp_path: Path) -> None:
    """Who took an outage on (the on-call bot's Ack button, against the fake Bot API) shows
    in the outage's row without a reload; SNMP devices are rows of their own in the network
    group, one polled from a real snmpd (up), one with nothing listening (down, its reason
    in Indonesian)."""
    from tests.helpers.snmpd import free_udp_port, running_snmpd
    from tests.helpers.telegram_api import fake_telegram

    dead = f"127.0.0.1:{free_port()}"
    with TcpListener() as up, fake_telegram() as fake, \
            running_snmpd(tmp_path, ["rocommunity public 127.0.0.1", "sysName core-switch",
                                     "sysLocation ruang-server"]) as snmpd:
        cfg: dict[str, Any] = {
            "site": "dpmptsp-kab-contoh", "host": {"enabled": False},
            "status_page": {"refresh": f"{REFRESH:g}s"},
            "alerts": {"damping": {"failures": 1, "successes": 1}, "settle": "1s",
                       "receivers": [{"name": "oncall", "type": "telegram",
                                      "bot_token": fake.token, "chat_id": 1001,
                                      "api_url": fake.url,
                                      "bot": {"enabled": True, "allowed_user_ids": [501],
                                              "poll_timeout": "1s", "max_backoff": "1s"}}]},
            "snmp": {"auths": {"kantor": {"community": "public"}},
                     "devices": [{"name": "core-switch", "address": snmpd.target,
                                  "auth": "kantor", "interval": "2s", "timeout": "500ms",
                                  "retries": 1},
                                 {"name": "ap-lantai-2",
                                  "address": f"127.0.0.1:{free_udp_port()}",
                                  "auth": "kantor", "interval": "2s", "timeout": "300ms",
                                  "retries": 0}]},
            "checks": [{**CHECK, "name": "gateway", "target": up.target},
                       {**CHECK, "name": "portal-oss", "target": dead,
                        "depends_on": ["gateway"]}],
        }
        with run_agent(cfg, tmp_path / "agent") as agent, Browser(tmp_path) as b:
            open_page(b, agent)
            states = b.wait_js(
                f"(s => s['snmp:core-switch'] === 'up' && s['snmp:ap-lantai-2'] === 'down'"
                f" && s['portal-oss'] === 'down' && s)({STATES_JS})", 30, "devices polled")
            assert states == {"gateway": "up", "portal-oss": "down", "snmp:core-switch": "up",
                              "snmp:ap-lantai-2": "down"}
            net = b.js("(s => [s.querySelector('h2').innerText, [...s.querySelectorAll("
                       "'li.item')].map(e => [e.dataset.name, e.innerText])])(document."
                       "querySelector('section[data-group=network]'))")
            assert net[0] == "Perangkat jaringan"
            rows = dict(net[1])
            assert list(rows) == ["snmp:core-switch", "snmp:ap-lantai-2"]
            assert "NAIK" in rows["snmp:core-switch"].upper()
            assert snmpd.target in rows["snmp:core-switch"]  # the device's address
            assert "ms" in rows["snmp:core-switch"]  # its response time
            assert "TURUN" in rows["snmp:ap-lantai-2"].upper()
            api = {i["name"]: i for i in agent_status(agent)["items"]}
            reason = api["snmp:ap-lantai-2"]["reason"]
            assert parse_reason(reason) is not None, reason  # a wording the codes know
            assert f"alasan: {reason_text(reason, 'id')}" in rows["snmp:ap-lantai-2"]
            assert "tidak ada jawaban SNMP" in rows["snmp:ap-lantai-2"]

            # the on-call admin presses Ack under the alert; the page says who and when
            alert = fake.wait_sent(lambda m: "reply_markup" in m and "portal-oss" in m["text"],
                                   20)
            assert b.js("document.querySelector('li[data-name=\"portal-oss\"] .ack')") is None
            b.js("window.__sameDocument = true")
            fake.press(alert, "ack:portal-oss", username="budi")
            ack = b.wait_js("(e => e && e.innerText)(document.querySelector("
                            "'#open li[data-name=\"portal-oss\"] .ack'))", 20, "ack shown")
            # the API's copy of the last second may predate the press
            doc_ack = wait_until(lambda: agent_status(agent)["acknowledgements"], 5,
                                 "ack in the API")
            assert [(a["check"], a["by"]) for a in doc_ack] == [("portal-oss", "budi")]
            assert ack == f"Ditangani oleh budi pada {doc_ack[0]['at_text']} " \
                f"(melalui {doc_ack[0]['via']})", ack
            assert b.js("window.__sameDocument") is True
            b.screenshot(tmp_path / "status-ack-snmp.png")
            open_page(b, agent, "?lang=en")
            ack_en = b.wait_js("(e => e && e.innerText)(document.querySelector("
                               "'#open li[data-name=\"portal-oss\"] .ack'))", 10, "ack (en)")
            assert ack_en.startswith("Taken on by budi at ")
