"""The status API of a running `pantau run` (docs/status-api.md is the contract): every
documented field present with its documented type, states and reasons as the alert engine
sees them, names that are not configured refused, auth exactly like /metrics.

The checks are tcp checks against real listeners on loopback, one of which the test cuts and
restores so the history holds a finished outage."""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import yaml

from tests.helpers.agent import RunningAgent, free_port, run_agent
from tests.helpers.listener import TcpListener
from tests.helpers.waiting import wait_until

DOC = Path(__file__).resolve().parents[2] / "docs" / "status-api.md"


def doc_tables() -> dict[str, list[list[tuple[str, str]]]]:
    """Section heading -> its `| field | type | meaning |` tables as (field, type) rows."""
    out: dict[str, list[list[tuple[str, str]]]] = {}
    section = ""
    table: list[tuple[str, str]] | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            section = line[3:].split("?")[0].strip()
            table = None
        elif line.startswith("| field | type |"):
            table = []
            out.setdefault(section, []).append(table)
        elif line.startswith("| `") and table is not None:
            cells = [c.strip() for c in line.strip("|").split("|")]
            table.append((cells[0].strip("`"), cells[1]))
        elif not line.startswith("|"):
            table = None
    return out


def conforms(value: Any, type_: str) -> bool:
    type_ = type_.strip()
    if type_.startswith("list[") and type_.endswith("]"):
        return isinstance(value, list) and all(conforms(v, type_[5:-1]) for v in value)
    if " or " in type_:
        return any(conforms(value, t) for t in type_.split(" or "))
    checks = {
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "string": lambda v: isinstance(v, str), "bool": lambda v: isinstance(v, bool),
        "object": lambda v: isinstance(v, dict), "null": lambda v: v is None,
    }
    assert type_ in checks, f"docs/status-api.md uses an unknown type {type_!r}"
    return bool(checks[type_](value))


def assert_documented(obj: dict[str, Any], table: list[tuple[str, str]], what: str) -> None:
    assert table, f"no table for {what}"
    for name, type_ in table:
        assert name in obj, f"{what}: documented field {name!r} missing"
        assert conforms(obj[name], type_), f"{what}.{name}={obj[name]!r} is not {type_}"
    extra = set(obj) - {n for n, _ in table}
    assert not extra, f"{what}: fields not in docs/status-api.md: {sorted(extra)}"


def get_json(agent: RunningAgent, path: str, headers: dict[str, str] | None = None
             ) -> tuple[int, Any]:
    req = urllib.request.Request(agent.url + path, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.headers["Content-Type"].startswith("application/json")
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        body = e.read()
        return e.code, json.loads(body) if body.startswith(b"{") else body


def config(up: TcpListener, flappy: TcpListener) -> dict[str, Any]:
    dead = f"127.0.0.1:{free_port()}"
    check = {"type": "tcp", "interval": "1s", "timeout": "500ms"}
    soon = time.time() + 86400
    return {
        "site": "kantor-status", "host": {"interval": "2s", "timeout": "1s"},
        "alerts": {"damping": {"failures": 1, "successes": 1}, "settle": "1s"},
        "reports": {"slo_per_check": {"portal": 0.995}, "maintenance": [
            {"start": "2026-01-01T00:00:00+07:00", "end": "2099-01-01T00:00:00+07:00",
             "checks": ["maint-check"], "reason": "ganti switch"},
            {"start": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(soon)),
             "end": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(soon + 3600)),
             "reason": "ganti router"}]},
        "checks": [
            {**check, "name": "gateway", "target": up.target},
            {**check, "name": "uplink", "target": dead, "depends_on": ["gateway"]},
            {**check, "name": "portal", "target": dead, "depends_on": ["uplink"]},
            {**check, "name": "flappy", "target": flappy.target},
            {**check, "name": "maint-check", "target": up.target},
        ],
    }


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAgent]:
    with TcpListener() as up, TcpListener() as flappy:
        with run_agent(config(up, flappy), tmp_path_factory.mktemp("status-api")) as a:
            def state(name: str) -> str:
                items = get_json(a, "/api/v1/status")[1]["items"]
                return str(next(i["state"] for i in items if i["name"] == name))

            wait_until(lambda: state("portal") == "unreachable" and state("flappy") == "up",
                       20, "portal unreachable, flappy up")
            flappy.stop()
            wait_until(lambda: state("flappy") == "down", 10, "flappy down")
            flappy.start()
            wait_until(lambda: state("flappy") == "up", 10, "flappy up again")
            yield a


def test_status_has_every_documented_field_with_its_type(agent: RunningAgent) -> None:
    tables = doc_tables()
    status, doc = get_json(agent, "/api/v1/status")
    assert status == 200
    top, item_table = tables["GET /api/v1/status"]
    assert_documented(doc, top, "status")
    assert set(doc["counts"]) == {"up", "down", "unreachable", "maintenance", "unknown"}
    assert all(isinstance(v, int) for v in doc["counts"].values())
    assert sum(doc["counts"].values()) == len(doc["items"])
    names = [i["name"] for i in doc["items"]]
    assert names == ["host", "gateway", "uplink", "portal", "flappy", "maint-check"]
    for item in doc["items"]:
        assert_documented(item, item_table, f"item {item['name']}")
        assert len(item["spark_ms"]) == 60 and len(item["spark_ok"]) == 60
        assert set(item["spark_ok"]) <= set("10.")
        assert item["group"] in doc["groups"]
        if item["kind"] == "check":
            av = item["availability"]
            assert set(av) == {"ratio", "target", "met"}
            assert conforms(av["ratio"], "number or null") and conforms(av["met"], "bool or null")
    portal = next(i for i in doc["items"] if i["name"] == "portal")
    assert portal["availability"]["target"] == 0.995
    no_spark = get_json(agent, "/api/v1/status?spark=0")[1]["items"][0]
    assert "spark_ms" not in no_spark and "spark_ok" not in no_spark


def test_check_detail_outages_and_maintenance_match_the_doc(agent: RunningAgent) -> None:
    tables = doc_tables()
    item_table = tables["GET /api/v1/status"][1]
    (detail_table,) = tables["GET /api/v1/checks/NAME"]
    status, doc = get_json(agent, "/api/v1/checks/flappy")
    assert status == 200
    assert_documented(doc, [*item_table, *detail_table], "checks/flappy")
    assert doc["samples"] and doc["resolution_seconds"] == 60
    for s in doc["samples"]:
        assert set(s) == {"t", "ok", "fail", "ms"} and s["t"] % 60 == 0
        assert conforms(s["ok"], "int") and conforms(s["ms"], "number or null")
    assert sum(s["fail"] for s in doc["samples"]) >= 1  # the cut is in the minute samples
    assert [c["new"] for c in doc["states"]][-2:] == ["down", "up"]
    for c in doc["states"]:
        assert set(c) == {"at", "at_text", "old", "new", "reason", "root_cause", "verdict"}

    top, outage_table = tables["GET /api/v1/outages"]
    status, doc = get_json(agent, "/api/v1/outages")
    assert status == 200
    assert_documented(doc, top, "outages")
    by_check = {o["check"]: o for o in doc["outages"]}
    for o in doc["outages"]:
        assert_documented(o, outage_table, f"outage {o['check']}")
    assert by_check["flappy"]["end"] is not None and not by_check["flappy"]["ongoing"]
    assert by_check["uplink"]["ongoing"] and by_check["uplink"]["root_cause"] == ["uplink"]
    assert by_check["portal"]["suppressed"] and by_check["portal"]["root_cause"] == ["uplink"]
    assert by_check["uplink"]["reason"]
    # a range before the outages began holds none of them
    status, doc = get_json(agent, "/api/v1/outages?from=2026-01-01&to=2026-01-02")
    assert status == 200 and doc["outages"] == []

    top, window_table = tables["GET /api/v1/maintenance"]
    status, doc = get_json(agent, "/api/v1/maintenance")
    assert status == 200
    assert_documented(doc, top, "maintenance")
    for w in doc["windows"]:
        assert_documented(w, window_table, "window")
    assert [(w["active"], w["upcoming"], w["checks"]) for w in doc["windows"]] == [
        (True, False, ["maint-check"]), (False, True, [])]


def test_states_roots_and_reasons_as_the_alert_engine_sees_them(agent: RunningAgent) -> None:
    _, doc = get_json(agent, "/api/v1/status")
    items = {i["name"]: i for i in doc["items"]}
    assert items["gateway"]["state"] == "up" and items["gateway"]["rtt_ms"] is not None
    assert items["uplink"]["state"] == "down" and items["uplink"]["state_text"] == "turun"
    assert items["uplink"]["root_cause"] == ["uplink"]
    assert "refused" in items["uplink"]["reason"]
    assert items["portal"]["state"] == "unreachable"
    assert items["portal"]["state_text"] == "tak terjangkau"
    assert items["portal"]["root_cause"] == ["uplink"]
    assert items["maint-check"]["state"] == "maintenance"
    assert items["flappy"]["state"] == "up" and "refused" in items["flappy"]["last_error"]
    assert items["flappy"]["reason"] == ""
    assert doc["open_outages"] == ["uplink", "portal"]
    assert doc["counts"] == {"up": 3, "down": 1, "unreachable": 1, "maintenance": 1,
                             "unknown": 0}
    assert [w["reason"] for w in doc["maintenance_active"]] == ["ganti switch"]
    assert items["gateway"]["group"] == "gateway" and items["uplink"]["group"] == "uplinks"
    assert items["portal"]["group"] == "services" and items["host"]["group"] == "host"
    assert re.search(r"\d+ (dtk|mnt|jam|hari)\b", items["uplink"]["for_text"])
    assert items["gateway"]["for_text"] == ""  # up: only since
    # the language: words and formatted times only, never codes
    en = get_json(agent, "/api/v1/status", {"Accept-Language": "en-GB,en;q=0.9,id;q=0.5"})[1]
    assert en["lang"] == "en"
    en_items = {i["name"]: i for i in en["items"]}
    assert en_items["portal"]["state_text"] == "unreachable"
    assert en_items["portal"]["state"] == "unreachable"
    assert get_json(agent, "/api/v1/status?lang=en", {"Accept-Language": "id"})[1]["lang"] \
        == "en"
    assert get_json(agent, "/api/v1/status", {"Accept-Language": "id-ID,en;q=0.8"})[1]["lang"] \
        == "id"


@pytest.mark.parametrize("name", ["nope", "check:gateway", "..%2Fmetrics", "", "gateway%00",
                                  "GATEWAY", "snmp:none"])
def test_a_name_that_is_not_configured_is_404(agent: RunningAgent, name: str) -> None:
    status, doc = get_json(agent, f"/api/v1/checks/{name}")
    assert status == 404 and "error" in doc


def test_bad_parameters_and_methods(agent: RunningAgent) -> None:
    assert get_json(agent, "/api/v1/outages?from=kemarin")[0] == 400
    assert get_json(agent, "/api/v1/outages?from=2026-11-02&to=2026-11-01")[0] == 400
    assert get_json(agent, "/api/v1/outages?from=2020-01-01&to=2026-01-01")[0] == 400
    assert get_json(agent, "/api/v1/nothing")[0] == 404
    req = urllib.request.Request(agent.url + "/api/v1/status", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=5)
    assert e.value.code == 405


PATHS = ["/metrics", "/", "/api/v1/status", "/api/v1/checks/gateway", "/api/v1/outages",
         "/api/v1/maintenance"]


def _status(url: str, auth: tuple[str, str] | None) -> int:
    req = urllib.request.Request(url)
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def test_basic_auth_exactly_like_metrics(tmp_path: Path) -> None:
    web = tmp_path / "web-config.yml"
    hashed = bcrypt.hashpw(b"rahasia-kantor", bcrypt.gensalt(4)).decode()
    web.write_text(yaml.safe_dump({"basic_auth_users": {"admin": hashed}}))
    with TcpListener() as up:
        cfg = {"site": "kantor-auth", "web_config_file": str(web),
               "host": {"interval": "2s", "timeout": "1s"},
               "checks": [{"name": "gateway", "type": "tcp", "target": up.target,
                           "interval": "1s", "timeout": "500ms"}]}
        with run_agent(cfg, tmp_path) as a:
            for path in PATHS:
                assert _status(a.url + path, None) == 401, path
                assert _status(a.url + path, ("admin", "salah")) == 401, path
                assert _status(a.url + path, ("admin", "rahasia-kantor")) == 200, path
            # the public page is off unless configured, behind the same password
            assert _status(a.url + "/status", None) == 401
            assert _status(a.url + "/status", ("admin", "rahasia-kantor")) == 404


def _request(url: str, auth: tuple[str, str] | None, data: bytes | None = None,
             ctype: str = "application/json") -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if data is not None:
        req.add_header("Content-Type", ctype)
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.status), r.read()
    except urllib.error.HTTPError as e:
        return int(e.code), e.read()


def _auth_config(tmp_path: Path, up: TcpListener, dead: str, **status_page: Any
                 ) -> dict[str, Any]:
    web = tmp_path / "web-config.yml"
    hashed = bcrypt.hashpw(b"rahasia-kantor", bcrypt.gensalt(4)).decode()
    web.write_text(yaml.safe_dump({"basic_auth_users": {"admin": hashed}}))
    check = {"type": "tcp", "interval": "1s", "timeout": "500ms"}
    return {"site": "kantor-publik", "web_config_file": str(web),
            "host": {"interval": "2s", "timeout": "1s"},
            "alerts": {"damping": {"failures": 1, "successes": 1}, "settle": "1s"},
            "status_page": {"public": True, "office": "DPMPTSP Kabupaten Contoh",
                            "services": [{"check": "portal-internal",
                                          "name": "Layanan Perizinan Online"}],
                            **status_page},
            "checks": [{**check, "name": "gateway-10-0-0-1", "target": up.target},
                       {**check, "name": "portal-internal", "target": dead}]}


ADMIN = ("admin", "rahasia-kantor")


def test_public_status_page_without_the_password_when_published(tmp_path: Path) -> None:
    dead = f"127.0.0.1:{free_port()}"
    with TcpListener() as up:
        cfg = _auth_config(tmp_path, up, dead)
        with run_agent(cfg, tmp_path / "open") as a:
            wait_until(lambda: b"Sedang terganggu" in _request(a.url + "/status", None)[1],
                       20, "the public page shows the portal down")
            for path in PATHS:  # everything else keeps asking
                assert _request(a.url + path, None)[0] == 401, path
            assert _request(a.url + "/metrics", ADMIN)[0] == 200
            status, page = _request(a.url + "/status", None)
            assert status == 200
            text = page.decode()
            assert "Layanan Perizinan Online" in text and "DPMPTSP Kabupaten Contoh" in text
            # never the internal side: addresses, targets, check names, technical reasons
            assert not re.search(r"\b(127|10|192\.168|172\.(1[6-9]|2\d|3[01]))\.\d+\.\d+",
                                 text), text
            for secret in (up.target, dead, "portal-internal", "gateway-10-0-0-1", "refused",
                           "/metrics", "/api/"):
                assert secret not in text, secret
            # a POST is never open, a HEAD/GET of other paths neither
            assert _request(a.url + "/status", None, b"{}")[0] == 401
        cfg["status_page"]["public_auth"] = True
        with run_agent(cfg, tmp_path / "closed") as a:
            assert _request(a.url + "/status", None)[0] == 401
            assert _request(a.url + "/status", ADMIN)[0] == 200
        cfg["status_page"] = {}  # the default: not published, behind the password
        with run_agent(cfg, tmp_path / "default") as a:
            assert _request(a.url + "/status", None)[0] == 401
            assert _request(a.url + "/status", ADMIN)[0] == 404


def test_incident_note_through_the_api(tmp_path: Path) -> None:
    dead = f"127.0.0.1:{free_port()}"
    with TcpListener() as up:
        with run_agent(_auth_config(tmp_path, up, dead), tmp_path / "agent") as a:
            def outages() -> list[dict[str, Any]]:
                status, body = _request(a.url + "/api/v1/outages", ADMIN)
                assert status == 200
                return list(json.loads(body)["outages"])

            wait_until(lambda: any(o["check"] == "portal-internal" for o in outages()), 20,
                       "the portal's outage recorded")
            url = a.url + "/api/v1/checks/portal-internal/note"
            note = {"note": "Server portal sedang diperbaiki, perkiraan selesai 14.00"}
            body = json.dumps(note).encode()
            assert _request(url, None, body)[0] == 401
            assert _request(url, ("admin", "salah"), body)[0] == 401
            assert _request(url, ADMIN, body, "text/plain")[0] == 400
            assert _request(url, ADMIN, b"not json")[0] == 400
            assert _request(url, ADMIN, b'{"note": ""}')[0] == 400
            assert _request(url, ADMIN, json.dumps({"note": "x" * 501}).encode())[0] == 400
            assert _request(url, ADMIN, b'{"note": "a", "extra": 1}')[0] == 400
            assert _request(url, ADMIN, b'{"note": "a", "at": "kemarin"}')[0] == 400
            assert _request(a.url + "/api/v1/checks/nope/note", ADMIN, body)[0] == 404
            assert _request(a.url + "/api/v1/checks/portal-internal/note", ADMIN,
                            b'{"note": "a", "at": 1000}')[0] == 404  # no outage that early
            status, answer = _request(url, ADMIN, body)
            assert status == 200, answer
            doc = json.loads(answer)
            (table,) = doc_tables()["POST /api/v1/checks/NAME/note"]
            assert_documented(doc, table, "note answer")
            assert doc["note"] == note["note"]
            ours = [o for o in outages() if o["check"] == "portal-internal"]
            assert ours[-1]["note"] == note["note"]
            assert ours[-1]["start"] == doc["outage_start"]
            # the citizens read it on the public page, in place of the plain words
            page = _request(a.url + "/status", None)[1].decode()
            assert "Server portal sedang diperbaiki, perkiraan selesai 14.00" in page


def test_posting_a_note_needs_basic_auth_configured(agent: RunningAgent) -> None:
    status, body = _request(agent.url + "/api/v1/checks/portal/note", None,
                            b'{"note": "siapa saja"}')
    assert status == 403 and b"basic auth" in body
