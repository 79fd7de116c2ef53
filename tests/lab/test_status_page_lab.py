"""The live status page in a real browser against a real agent in the office lab: the ISP
link cut with `ip link set down` on both ends, the page (never reloaded) showing the uplink
down with its reason and the portal and DNS suppressed under it, then all back.

    office (agent) --lan-- router --uplink-- isp (:2600) --transit-- internet (portal, dns)

The agent runs in the office namespace, as in test_alerting_lab.py (same checks: a TCP
connect to the ISP end of the uplink, the portal over HTTP and the lab DNS behind it).
Chromium runs beside pytest and reaches the agent through a small forwarder: a socket
listening on this namespace's loopback, handed to a process inside the office namespace
that connects there. Screenshots stay in the test's tmp dir (status-lab-*.png).
Needs root: `pytest tests/lab/test_status_page_lab.py -m lab`.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.i18n import parse_reason, reason_text
from agent.status.api import STATUS_MAX_AGE
from tests.helpers.agent import run_agent
from tests.helpers.browser import Browser
from tests.helpers.waiting import wait_until
from tests.lab.office import OfficeLab
from tests.lab.test_alerting_lab import lab, office_config  # noqa: F401  (the `lab` fixture)

INTERVAL, TIMEOUT, REFRESH = 1.0, 0.6, 1.0  # office_config's interval and timeout
AGENT_PORT = 19877  # run_agent's port inside a namespace

STATES_JS = ("Object.fromEntries([...document.querySelectorAll('#groups li.item')]"
             ".map(e => [e.dataset.name, e.dataset.state]))")
OPEN_JS = ("Object.fromEntries([...document.querySelectorAll('#open li.item')]"
           ".map(e => [e.dataset.name, e.innerText]))")

# Runs inside the office namespace with the listening socket (created outside) as fd argv[1]:
# every connection accepted there is joined to the agent on the namespace's own loopback.
FORWARDER = r"""
import socket, sys, threading
listener = socket.socket(fileno=int(sys.argv[1]))
port = int(sys.argv[2])
def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
while True:
    client, _ = listener.accept()
    try:
        upstream = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError:
        client.close()
        continue
    upstream.settimeout(None)
    for a, b in ((client, upstream), (upstream, client)):
        threading.Thread(target=pipe, args=(a, b), daemon=True).start()
"""


@pytest.fixture
def forwarded(lab: OfficeLab) -> Iterator[str]:  # noqa: F811  (the imported fixture)
    """http://127.0.0.1:PORT here, answered by the agent's port in the office namespace."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(32)
    port = sock.getsockname()[1]
    proc = lab.popen("office", [lab.python_exe, "-c", FORWARDER, str(sock.fileno()),
                                str(AGENT_PORT)], pass_fds=(sock.fileno(),))
    sock.close()  # the forwarder holds it now
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait(timeout=5)


def status_doc(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/api/v1/status?spark=0", timeout=5) as r:
        return dict(json.loads(r.read()))


def test_isp_cut_in_the_lab_shown_live_on_the_page(lab: OfficeLab,  # noqa: F811
                                                   forwarded: str, tmp_path: Path) -> None:
    cfg = office_config(tmp_path / "state", [], damping=(1, 1))
    cfg["status_page"] = {"refresh": f"{REFRESH:g}s", "groups": {"uplink": "uplinks"}}
    with run_agent(cfg, tmp_path / "agent", netns=lab.ns["office"]) as agent, \
            Browser(tmp_path) as b:
        assert agent.url.endswith(f":{AGENT_PORT}")
        b.navigate(forwarded + "/")
        states = b.wait_js(f"(s => Object.keys(s).length === 3 && Object.values(s).every("
                           f"v => v === 'up') && s)({STATES_JS})", 30, "all up")
        assert states == {"uplink": "up", "portal": "up", "dns": "up"}
        assert b.js("document.documentElement.lang") == "id"
        assert b.js("document.querySelector('#open').innerText").strip() == \
            "Tidak ada gangguan."
        groups = b.js("[...document.querySelectorAll('section.group')].map(s => "
                      "[s.dataset.group, s.querySelector('h2').innerText, "
                      "[...s.querySelectorAll('li.item')].map(e => e.dataset.name)])")
        assert groups == [["uplinks", "Uplink ISP", ["uplink"]],
                          ["dns", "DNS", ["dns"]], ["services", "Layanan", ["portal"]]]
        b.screenshot(tmp_path / "status-lab-1-all-up.png")
        b.js("window.__sameDocument = true")

        cut = time.monotonic()
        lab.cut("uplink")
        # the first probe after the cut fails within one interval plus its timeout (damping
        # 1: that result is the state change); then one page refresh and the age an
        # /api/v1/status answer may have; a second for a loaded machine
        limit = INTERVAL + TIMEOUT + REFRESH + STATUS_MAX_AGE + 1.0
        opened = b.wait_js(
            f"(o => o['uplink'] && o['dns'] && o['portal'] && o)({OPEN_JS})",
            limit + 10, "the cut shown")
        took = time.monotonic() - cut
        assert took <= limit, f"shown after {took:.1f}s, limit {limit:.1f}s"
        print(f"lab ISP cut shown on the page after {took:.2f} s (limit {limit:.1f} s)")
        assert b.js("window.__sameDocument") is True  # no reload happened
        assert b.js(STATES_JS) == {"uplink": "down", "portal": "unreachable",
                                   "dns": "unreachable"}
        # The reason: the agent's own, shown through the reason codes in Indonesian. It may
        # move from one result to the next (the router answers "network unreachable" until
        # the kernel's ICMP rate limit holds it back, then the connects time out), and the
        # page shows what the API said up to one refresh and STATUS_MAX_AGE ago: so the page
        # must come to show one of the reasons the API gave from here on, within that lag.
        assert "TURUN" in opened["uplink"].upper()
        given: dict[str, str] = {}  # the API's reason -> its Indonesian wording

        def page_shows_a_reason_the_api_gave() -> bool:
            reason = {i["name"]: i for i in status_doc(forwarded)["items"]}["uplink"]["reason"]
            assert parse_reason(reason) is not None, reason  # a known wording, not raw text
            given[reason] = reason_text(reason, "id")
            assert given[reason] != reason
            page = b.js(OPEN_JS).get("uplink", "")
            return any(f"alasan: {shown}" in page for shown in given.values())

        wait_until(page_shows_a_reason_the_api_gave, REFRESH + STATUS_MAX_AGE + 5.0,
                   "the page showing a reason the API gave", interval=0.1)  # + a loaded box
        print("reasons the API gave during the cut:", given)
        for name in ("dns", "portal"):
            assert "TAK TERJANGKAU" in opened[name].upper()  # the state word
            assert "ditekan karena akar masalah uplink" in opened[name], opened[name]
        order = b.js("[...document.querySelectorAll('#open li.item')].map(e => e.dataset.name)")
        assert order == ["uplink", "dns", "portal"] or order == ["uplink", "portal", "dns"]
        summary = b.js("document.querySelector('#summary').innerText")
        assert "1 turun" in summary and "2 tak terjangkau" in summary, summary
        b.screenshot(tmp_path / "status-lab-2-isp-cut.png")

        lab.restore("uplink")
        b.wait_js(f"Object.values({STATES_JS}).filter(v => v === 'up').length === 3",
                  limit + 10, "back up")
        assert b.js("document.querySelector('#open').innerText").strip() == \
            "Tidak ada gangguan."
        assert b.js("window.__sameDocument") is True
        b.screenshot(tmp_path / "status-lab-3-restored.png")
        external = [u for u in b.requests if not u.startswith(forwarded)]
        assert not external, external
        print(f"screenshots in {tmp_path}")
