"""The status API (/api/v1/*) and the request dispatch for /, /status and /api/.

Everything here reads what the agent already holds: the alert state machine (state, since,
root cause), the store's results as they arrive (a per-minute ring per check, see ring.py) and
the outage history. The month's availability comes from the history, recomputed by a
background task once a minute and a few seconds after an outage begins or ends (never more
often than every 5 s), so a request never waits on SQLite for it and a thousand open pages
cost no more than one. The one write: POST /api/v1/checks/NAME/note, a public incident note
(basic auth required, JSON only).

docs/status-api.md is the contract; tests/peers/test_status_api.py checks every documented
field and its type.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote
from zoneinfo import ZoneInfo

from agent.i18n import STATES as STATE_TEXT
from agent.i18n import event_text, reason_text
from agent.reports.availability import Maintenance
from agent.status.config import GROUPS
from agent.status.data import (
    Availability,
    changes_since,
    compute_month,
    events_since,
    maintenance_windows,
    outages_between,
)
from agent.status.ring import Ring
from agent.store import Result
from collectors.common.timefmt import format_span, format_time, resolve_zone

if TYPE_CHECKING:
    from agent.alerting import Alerting
    from agent.config import AgentConfig

log = logging.getLogger(__name__)

API_VERSION = 1
JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
AVAILABILITY_REFRESH = 60.0
AVAILABILITY_MIN_GAP = 5.0
STATUS_MAX_AGE = 1.0  # an /api/v1/status answer is at most this old
OUTAGE_RANGE_MAX = 400 * 86400  # one query may ask for a bit more than a year

# "unreachable": down because a check it depends on is down (cut off upstream, no alert of
# its own; the history records it so too)
STATES = ("up", "down", "unreachable", "maintenance", "unknown")
NOTE_MAX = 500  # characters of an incident note

Response = tuple[int, str, bytes]


def choose_lang(query: Mapping[str, list[str]], accept_language: str) -> str:
    """?lang=id|en wins; else the first of id/en in Accept-Language by q; else Indonesian."""
    asked = (query.get("lang") or [""])[0].lower()
    if asked in ("id", "en"):
        return asked
    best, best_q = "id", -1.0
    for i, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in ("id", "en", "in"):  # "in" is the old code for Indonesian
            continue
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if q > best_q or (q == best_q and i == 0):
            best, best_q = ("id" if primary == "in" else primary), q
    return best


@dataclass
class Item:
    """One thing on the page: the host, a configured check or a network device."""

    key: str  # the store key
    name: str
    kind: str  # host, check, device
    type: str
    target: str
    group: str
    depends_on: list[str] = field(default_factory=list)


def build_items(cfg: AgentConfig) -> dict[str, Item]:
    """Everything the config watches, keyed by the name used in /api/v1/checks/NAME.

    The group follows the path from the office out: a check without dependencies is the
    gateway, one that depends only on gateways is an uplink, DNS by its type, the rest are
    services; `status_page.groups` overrides the guess."""
    items: dict[str, Item] = {}
    if cfg.host.enabled:
        items["host"] = Item("host", "host", "host", "host", "", "host")
    deps = {c.name: [*c.depends_on, *getattr(c, "depends_on_any", [])] for c in cfg.checks}
    guessed: dict[str, str] = {}
    # separate passes: a check may depend on one listed after it
    for c in cfg.checks:
        guessed[c.name] = "dns" if c.type == "dns" else "services"
    for c in cfg.checks:
        if not deps[c.name] and c.type in ("icmp", "tcp"):
            guessed[c.name] = "gateway"
    for c in cfg.checks:
        parents = deps[c.name]
        if parents and c.type in ("icmp", "tcp") and all(guessed[p] == "gateway"
                                                        for p in parents):
            guessed[c.name] = "uplinks"
    overrides = cfg.status_page.groups
    for c in cfg.checks:
        items[c.name] = Item(f"check:{c.name}", c.name, "check", c.type, c.target,
                             overrides.get(c.name, guessed[c.name]), deps[c.name])
    for d in getattr(cfg.snmp, "devices", []):
        name = f"snmp:{d.name}"
        items[name] = Item(name, name, "device", "snmp", d.address,
                           overrides.get(name, "network"))
    return items


class StatusService:
    """Feeds the rings from the store and answers /, /status and /api/v1/*."""

    def __init__(self, config: Callable[[], AgentConfig],
                 alerting: Callable[[], Alerting | None]) -> None:
        self._config = config
        self._alerting = alerting
        self.rings: dict[str, Ring] = {}
        self._items_for: AgentConfig | None = None
        self._items: dict[str, Item] = {}
        self.availability: dict[str, Availability] = {}
        self.maintenance: list[tuple[str, Maintenance]] = []  # (source, window)
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._down_signature = 0
        self._frags: dict[str, _Fragments] = {}
        self._bodies: dict[tuple[str, bool], tuple[float, bytes]] = {}
        self._order: list[Item] = []  # the items in page order
        self._index: dict[str, int] = {}  # store key -> position in _order
        self._variants: dict[tuple[str, bool], _Variant] = {}  # (lang, spark) -> its parts

    # -- input: one O(1) update per result the store already hands out ------------------
    def on_result(self, result: Result) -> None:
        key = result.key
        if not (key.startswith("check:") or key == "host" or key.startswith("snmp:")):
            return
        ring = self.rings.get(key)
        if ring is None:
            ring = self.rings[key] = Ring()
        obs = result.observation
        ring.add(obs.timestamp or time.time(), obs.success, obs.duration, obs.reason)
        i = self._index.get(key)
        if i is not None:  # at most one set insertion per answer variant (4): a constant
            for v in self._variants.values():
                v.dirty.add(i)

    def on_remove(self, key: str) -> None:
        self.rings.pop(key, None)
        i = self._index.get(key)
        if i is not None:
            for v in self._variants.values():
                v.dirty.add(i)

    def items(self) -> dict[str, Item]:
        cfg = self._config()
        if cfg is not self._items_for:  # rebuilt after a reload only
            self._items = build_items(cfg)
            self._order = list(self._items.values())
            self._index = {it.key: i for i, it in enumerate(self._order)}
            self._frags = {}
            self._bodies = {}
            self._variants = {}
            self._items_for = cfg
            self._wake.set()
        return self._items

    # -- background: the month's availability and the maintenance windows ---------------
    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._refresher(), name="status-availability"),
                       asyncio.create_task(self._exporter(), name="status-export")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    async def _exporter(self) -> None:
        """Rewrite status_page.export_dir on its interval (read again after every reload)."""
        from agent.status.public import export

        while True:
            sp = self._config().status_page
            if sp.public and sp.export_dir is not None and sp.services:
                live = {n: s[0] for n, s in self._states(time.time()).items()}
                try:
                    await asyncio.to_thread(export, self._config(), sp.export_dir, None, live)
                except Exception as e:  # a full disk must not stop the agent
                    log.warning("status page export to %s failed: %s: %s", sp.export_dir,
                                type(e).__name__, e)
            await asyncio.sleep(sp.export_interval)

    def kick(self) -> None:
        """Recompute soon (after a reload or a maintenance change)."""
        self._wake.set()

    async def _refresher(self) -> None:
        while True:
            self._wake.clear()  # before computing: a wake from now on asks for another run
            try:
                await self.refresh()
            except Exception as e:  # the page shows "no data" rather than the agent dying
                log.warning("status page: availability not computed: %s: %s",
                            type(e).__name__, e)
            # at most every few seconds however often it is woken, at least once a minute
            await asyncio.sleep(AVAILABILITY_MIN_GAP)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), AVAILABILITY_REFRESH)

    async def refresh(self) -> None:
        cfg = self._config()
        avail, maint = await asyncio.to_thread(compute_month, cfg, time.time())
        self.set_availability(avail, maint)

    def set_availability(self, avail: dict[str, Availability],
                         maint: list[tuple[str, Maintenance]]) -> None:
        old, self.availability, self.maintenance = self.availability, avail, maint
        # only the items whose figure reads differently are redone in the next answers:
        # a new set every minute must not cost a re-encoding of every item
        for name in {*old, *avail}:
            if _avail_key(old.get(name)) != _avail_key(avail.get(name)):
                item = self._items.get(name)
                i = self._index.get(item.key) if item is not None else None
                if i is not None:
                    for v in self._variants.values():
                        v.dirty.add(i)

    # -- dispatch -----------------------------------------------------------------------
    def open_path(self, path: str) -> bool:
        """/status without the password: the citizens' page, when the config publishes it."""
        sp = self._config().status_page
        return path == "/status" and sp.public and not sp.public_auth

    async def handle(self, method: str, path: str, query: str,
                     headers: Mapping[str, str], body: bytes = b"") -> Response:
        params = parse_qs(query, keep_blank_values=True)
        lang = choose_lang(params, headers.get("accept-language", ""))
        if method == "POST":
            if path.startswith("/api/v1/checks/") and path.endswith("/note"):
                name = unquote(path[len("/api/v1/checks/"):-len("/note")])
                return await self._post_note(name, headers, body, lang)
            return _error(405, "method not allowed")
        if path == "/":
            from agent.status.page import render_page

            cfg = self._config()
            return 200, HTML_TYPE, render_page(cfg.site, lang, cfg.status_page.refresh)
        if path == "/status":
            return await self._public(lang)
        if path == "/api/v1/status":
            return 200, JSON_TYPE, self._status_bytes(lang, _flag(params, "spark", True))
        if path.startswith("/api/v1/checks/"):
            return await self._check(unquote(path[len("/api/v1/checks/"):]), lang)
        if path == "/api/v1/outages":
            return await self._outages(params, lang)
        if path == "/api/v1/maintenance":
            return await self._maintenance(lang)
        return _error(404, f"no such endpoint: {path} (see docs/status-api.md)")

    # -- /api/v1/status -------------------------------------------------------------------
    def _zone(self) -> ZoneInfo:
        return resolve_zone(self._config().reports.timezone)

    def _machine(self) -> Any:
        alerting = self._alerting()
        return alerting.machine if alerting is not None and alerting.cfg.enabled else None

    def _states(self, now: float) -> dict[str, tuple[str, float, list[str], str]]:
        """name -> (state, since, root causes, reason) for every item."""
        machine = self._machine()
        in_maint = self._in_maintenance(now)
        return {name: self._state_of(item, machine, in_maint)
                for name, item in self.items().items()}

    def _state_of(self, item: Item, machine: Any,
                  in_maint: Callable[[str], bool]) -> tuple[str, float, list[str], str]:
        name = item.name
        st = machine.checks.get(name) if machine is not None and item.kind == "check" \
            else None
        causes: list[str]
        if st is not None:
            state: str = st.state
            since, reason = st.since, st.reason
            causes = []
            if state == "down":
                causes = machine.root_cause(name).split(",")
                if causes != [name]:
                    state = "unreachable"
            else:
                reason = ""
        else:
            ring = self.rings.get(item.key)
            if ring is not None and ring.last_ok is not None:
                state = "up" if ring.last_ok else "down"
                since, reason = ring.since, ("" if ring.last_ok else ring.last_error)
                causes = [] if ring.last_ok else [name]
            else:
                state, since, causes, reason = "unknown", 0.0, [], ""
        if in_maint(name):
            state = "maintenance"
        return state, since, causes, reason

    def _active_windows(self, now: float) -> list[Maintenance]:
        return [m for _, m in self.maintenance if m.start.timestamp() <= now < m.end.timestamp()]

    def _in_maintenance(self, now: float) -> Callable[[str], bool]:
        active = self._active_windows(now)
        if not active:
            return lambda name: False
        if any(not m.checks for m in active):
            return lambda name: True
        names = {c for m in active for c in m.checks}
        return lambda name: name in names

    def _status_bytes(self, lang: str, spark: bool) -> bytes:
        """The status body, served from a copy at most STATUS_MAX_AGE old per variant:
        however many screens poll, the agent builds one answer a second."""
        key = (lang, spark)
        cached = self._bodies.get(key)
        now = time.monotonic()
        if cached is not None and now - cached[0] < STATUS_MAX_AGE:
            return cached[1]
        body = self.status_bytes(lang, spark=spark)
        self._bodies[key] = (now, body)
        return body

    def status_doc(self, lang: str, *, spark: bool = True,
                   now: float | None = None) -> dict[str, Any]:
        """The /api/v1/status document as Python data (what the endpoint sends)."""
        return dict(json.loads(self.status_bytes(lang, spark=spark, now=now)))

    def status_body(self, lang: str, *, spark: bool = True, now: float | None = None) -> str:
        return self.status_bytes(lang, spark=spark, now=now).decode()

    def status_bytes(self, lang: str, *, spark: bool = True,
                     now: float | None = None) -> bytes:
        """The /api/v1/status document as UTF-8 JSON, built afresh.

        Each item's encoded text is kept per variant (language, sparklines) and redone only
        for the items that can have changed: those with a new result since the last build
        (on_result marks them: one set insertion per result) and those not up (their "for
        how long" follows the clock, and their root cause the other checks). An up item
        changes only with a result of its own, or with its month's figure (set_availability
        marks the items whose figure changed). Everything is redone when what every item
        shows changes: a maintenance window starting or ending, a reload, a new alert state
        machine. (The machine moves a check
        between up and down only when it observes that check's result, which the store hands
        out in the same event-loop step as on_result, so no change slips between the two.)
        So an answer costs the changed items plus one join of the kept texts, not an
        encoding of a thousand items."""
        now = time.time() if now is None else now
        zone = self._zone()
        cfg = self._config()
        self.items()  # rebuilt after a reload
        order = self._order
        machine = self._machine()
        active = self._active_windows(now)
        in_maint = self._in_maintenance(now)
        sig = (id(machine), tuple(id(m) for m in active))
        key = (lang, spark)
        v = self._variants.get(key)
        todo: Any
        if v is None or v.sig != sig:
            v = self._variants[key] = _Variant(sig, [b""] * len(order),
                                               [_UNKNOWN] * len(order))
            v.counts = dict.fromkeys(STATES, 0)
            v.counts[_UNKNOWN[0]] = len(order)
            todo = range(len(order))
        else:
            todo, v.dirty = v.dirty | v.notup, set()
        for i in todo:
            item = order[i]
            st = self._state_of(item, machine, in_maint)
            v.counts[v.states[i][0]] -= 1
            v.counts[st[0]] += 1
            v.states[i] = st
            if st[0] == "up":
                v.notup.discard(i)
            else:
                v.notup.add(i)
            v.texts[i] = self._item_json(item, st, lang, now, spark, zone)
        counts = dict(v.counts)
        open_now = [(v.states[i][1], order[i].name, v.states[i][0]) for i in v.notup]
        down = sorted((s, n) for s, n, state in open_now if state == "down")
        supp = sorted((s, n) for s, n, state in open_now if state == "unreachable")
        # An outage that began or ended changes this month's figure: recompute it soon
        # rather than show a stale 100 % beside a check that is down.
        signature = hash((tuple(down), tuple(supp)))
        if signature != self._down_signature:
            self._down_signature = signature
            self._wake.set()
        states = {n: (state,) for _, n, state in open_now}
        head = _ENC({
            "api_version": API_VERSION, "site": cfg.site, "lang": lang,
            "timezone": cfg.reports.timezone, "generated": now,
            "generated_text": format_time(now, zone, lang),
            "groups": list(GROUPS), "counts": counts,
            "open_outages": [n for _, n in down] + [n for _, n in supp],
            "maintenance_active": [self._window(src, m, now, zone, lang)
                                   for src, m in self.maintenance
                                   if m.start.timestamp() <= now < m.end.timestamp()],
            "acknowledgements": self._acks(states, zone, lang),
        }).encode()
        # one join, one allocation of the ~1 MB answer (each fresh one costs page faults)
        texts, start = v.texts, head[:-1] + b',"items":['
        if len(texts) < 2:
            return start + b"".join(texts) + b"]}"
        return b",".join([start + texts[0], *texts[1:-1], texts[-1] + b"]}"])

    def _item_json(self, item: Item, st: tuple[str, float, list[str], str], lang: str,
                   now: float, spark: bool, zone: ZoneInfo) -> bytes:
        frag = self._frags.get(item.name)
        if frag is None:
            frag = self._frags[item.name] = _Fragments(_ENC({
                "name": item.name, "kind": item.kind, "type": item.type, "group": item.group,
                "target": item.target, "depends_on": item.depends_on})[1:-1])
        state, since, causes, reason = st
        ring = self.rings.get(item.key)
        rkey = (ring.last_at, ring.last_error_at) if ring else None
        av = self.availability.get(item.name)
        akey = _avail_key(av)
        # "for how long" only while not up: it is what matters during an outage, and up items
        # (nearly all of them) then need no new text every second
        timed = bool(since) and state != "up"
        fkey = (since, _span_key(now - since)) if timed else None
        # the whole item unchanged (the common case): no piece is looked at
        whole = (lang, spark, state, since, reason, fkey, rkey, akey)
        if frag.whole is not None and frag.whole[0] == whole and frag.causes == causes:
            return frag.whole[1]
        key = (state, since, tuple(causes), reason)
        cached = frag.state.get(lang)
        if cached is None or cached[0] != key:
            cached = (key, _ENC({
                "state": state, "state_text": STATE_TEXT[lang][state], "since": since or None,
                "since_text": format_time(since, zone, lang) if since else "",
                "root_cause": causes, "reason": reason,
                "reason_text": reason_text(reason, lang)})[1:-1])
            frag.state[lang] = cached
        # "for how long" changes with the clock alone: its own piece, so only it is redone
        for_text = frag.for_text.get(lang)
        if for_text is None or for_text[0] != fkey:
            for_text = (fkey, '"for_text":' + _ENC(format_span(now - since, lang)
                                                   if timed else ""))
            frag.for_text[lang] = for_text
        out = [frag.static, cached[1], for_text[1]]
        ring_key = (rkey, lang)
        if frag.ring is None or frag.ring[0] != ring_key:
            # the piece redone with every result: written out by hand, the error's words
            # kept until the error changes
            error = ring.last_error if ring else ""
            if frag.error is None or frag.error[0] != (error, lang):
                frag.error = ((error, lang), '"last_error":' + _ENC(error)
                              + ',"last_error_text":' + _ENC(reason_text(error, lang)))
            frag.ring = (ring_key, frag.error[1] + (
                f',"last_error_at":{_num(ring.last_error_at)},'
                f'"last_result_at":{_num(ring.last_at)},"rtt_ms":'
                f'{"null" if ring.last_ms is None else repr(round(ring.last_ms, 2))}'
                if ring else ',"last_error_at":null,"last_result_at":null,"rtt_ms":null'))
        out.append(frag.ring[1])
        if frag.avail is None or frag.avail[0] != akey:
            frag.avail = (akey, '"availability":' + ("null" if av is None else _ENC({
                "ratio": av.ratio, "target": av.target,
                "met": None if av.ratio is None else av.ratio >= av.target - 1e-12})))
        out.append(frag.avail[1])
        if spark:
            if frag.spark is None or frag.spark[0] != rkey:
                frag.spark = (rkey, ring.spark_json() if ring else _NO_SPARK)
            out.append(frag.spark[1])
        text = ("{" + ",".join(out) + "}").encode()
        frag.whole, frag.causes = (whole, text), list(causes)
        return text

    def _acks(self, states: Mapping[str, tuple[Any, ...]], zone: ZoneInfo,
              lang: str) -> list[dict[str, Any]]:
        """Who took on each open outage, and when (from the on-call bot or the CLI)."""
        alerting = self._alerting()
        if alerting is None:
            return []
        return [{"check": c, "by": a["by_name"], "at": a["at"],
                 "at_text": format_time(a["at"], zone, lang), "via": a["via"]}
                for c, a in sorted(alerting.acks.items())
                if states.get(c, ("",))[0] in ("down", "unreachable")]

    @staticmethod
    def _window(source: str, m: Maintenance, now: float, zone: ZoneInfo,
                lang: str) -> dict[str, Any]:
        start, end = m.start.timestamp(), m.end.timestamp()
        return {"source": source, "start": start, "start_text": format_time(start, zone, lang),
                "end": end, "end_text": format_time(end, zone, lang), "checks": list(m.checks),
                "reason": m.reason, "active": start <= now < end, "upcoming": start > now}

    # -- /api/v1/checks/NAME ------------------------------------------------------------
    async def _check(self, name: str, lang: str) -> Response:
        items = self.items()
        item = items.get(name)
        if item is None:  # only names the config knows; nothing is ever run for a request
            return _error(404, f"no configured check or device named {name!r}")
        now = time.time()
        row = json.loads(self._item_json(item, self._state_of(
            item, self._machine(), self._in_maintenance(now)), lang, now, True, self._zone()))
        ring = self.rings.get(item.key)
        row["samples"] = [{"t": t, "ok": ok, "fail": fail, "ms": ms}
                          for t, ok, fail, ms in (ring.minutes(now, 1440) if ring else [])]
        row["resolution_seconds"] = 60
        changes = await asyncio.to_thread(changes_since, self._config(), name, now - 86400)
        zone = self._zone()
        row["states"] = [{"at": c[0], "at_text": format_time(c[0], zone, lang), "old": c[1],
                          "new": c[2], "reason": c[3], "root_cause": c[4], "verdict": c[5]}
                         for c in changes]
        events = await asyncio.to_thread(events_since, self._config(), name, now - 86400)
        row["events"] = [{"at": at, "at_text": format_time(at, zone, lang), "kind": kind,
                          "text": event_text(kind, detail, lang)}
                         for at, kind, detail in events]
        row["api_version"] = API_VERSION
        return _json(row)

    # -- POST /api/v1/checks/NAME/note ----------------------------------------------------
    async def _post_note(self, name: str, headers: Mapping[str, str], body: bytes,
                         lang: str) -> Response:
        """Attach a public note to the current or a past outage of a configured check, as
        `pantau incident note` does. JSON only: a browser cannot send that type to another
        site without asking first, so a page elsewhere cannot write notes with the
        password the browser remembers."""
        from agent.status.data import add_note

        cfg = self._config()
        if name not in {c.name for c in cfg.checks}:
            return _error(404, f"no configured check named {name!r}")
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return _error(400, "send the note as JSON (Content-Type: application/json)")
        try:
            doc = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError):
            return _error(400, "the body is not JSON")
        if not isinstance(doc, dict) or set(doc) - {"note", "at"}:
            return _error(400, 'the body must be an object with "note" and optionally "at"')
        note = doc.get("note")
        if not isinstance(note, str) or not note.strip() or len(note.strip()) > NOTE_MAX:
            return _error(400, f'"note" must be a string of 1 to {NOTE_MAX} characters')
        zone = self._zone()
        at = doc.get("at")
        try:
            when = time.time() if at is None else _parse_when(
                str(at) if isinstance(at, (int, float, str)) and not isinstance(at, bool)
                else "\0", zone, "at")
        except ValueError as e:
            return _error(400, str(e))
        if when is None:
            when = time.time()
        try:
            start = await asyncio.to_thread(add_note, cfg, name, when, note.strip())
        except LookupError as e:
            return _error(404, str(e))
        except Exception as e:  # the history unreadable or full: say so, keep serving
            log.warning("incident note for %s not recorded: %s: %s", name,
                        type(e).__name__, e)
            return _error(500, f"note not recorded: {type(e).__name__}")
        log.info("incident note recorded for the outage of %s that began %s", name,
                 format_time(start, zone, "en"))
        return _json({"api_version": API_VERSION, "check": name, "outage_start": start,
                      "outage_start_text": format_time(start, zone, lang),
                      "note": note.strip()})

    # -- /api/v1/outages ----------------------------------------------------------------
    async def _outages(self, params: Mapping[str, list[str]], lang: str) -> Response:
        zone = self._zone()
        now = time.time()
        try:
            to = _parse_when((params.get("to") or [""])[0], zone, "to") or now
            frm = _parse_when((params.get("from") or [""])[0], zone, "from") or to - 30 * 86400
        except ValueError as e:
            return _error(400, str(e))
        if to <= frm:
            return _error(400, "`to` must be after `from`")
        if to - frm > OUTAGE_RANGE_MAX:
            return _error(400, "at most 400 days per query")
        outages = await asyncio.to_thread(outages_between, self._config(), frm, to, now)
        rows = []
        for o in outages:
            start, end = o.start.timestamp(), (o.end.timestamp() if o.end else None)
            causes = [c for c in o.root_cause.split(",") if c]
            rows.append({
                "check": o.check, "start": start, "start_text": format_time(start, zone, lang),
                "end": end, "end_text": format_time(end, zone, lang) if end else "",
                "ongoing": end is None,
                "duration_seconds": round((end or now) - start, 3),
                "duration_text": format_span((end or now) - start, lang),
                "root_cause": causes or [o.check],
                "suppressed": bool(causes) and causes != [o.check],
                "unreachable": o.upstream,
                "reason": o.reason,
                "note": o.note,
            })
        return _json({"api_version": API_VERSION, "from": frm, "to": to, "outages": rows})

    # -- /api/v1/maintenance --------------------------------------------------------------
    async def _maintenance(self, lang: str) -> Response:
        cfg = self._config()
        now = time.time()
        zone = self._zone()
        windows = await asyncio.to_thread(maintenance_windows, cfg)
        rows = [self._window(src, m, now, zone, lang) for src, m in windows
                if m.end.timestamp() > now - 7 * 86400]
        return _json({"api_version": API_VERSION, "windows": rows})

    # -- /status --------------------------------------------------------------------------
    async def _public(self, lang: str) -> Response:
        cfg = self._config()
        if not cfg.status_page.public:
            return 404, "text/plain; charset=utf-8", \
                b"the public status page is off (status_page.public)\n"
        from agent.status.public import gather, render_public

        live = {n: s[0] for n, s in self._states(time.time()).items()}
        data = await asyncio.to_thread(gather, cfg, time.time(), live)
        return 200, HTML_TYPE, render_public(data, lang).encode()


def _parse_when(text: str, zone: ZoneInfo, what: str) -> float | None:
    """Unix seconds, a date (local midnight) or an ISO 8601 time; "" for the default."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"`{what}`: {text!r} is not unix seconds, a date like 2026-11-01 or "
                         "an ISO 8601 time") from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=zone)).timestamp()


_ENC = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_NO_SPARK = _ENC({"spark_ms": [None] * 60, "spark_ok": "." * 60, "spark_end": 0})[1:-1]


@dataclass
class _Fragments:
    """One item's encoded JSON pieces and what each was made from."""

    static: str
    state: dict[str, tuple[Any, str]] = field(default_factory=dict)  # per language
    for_text: dict[str, tuple[Any, str]] = field(default_factory=dict)
    ring: tuple[Any, str] | None = None
    error: tuple[Any, str] | None = None
    avail: tuple[Any, str] | None = None
    spark: tuple[Any, str] | None = None
    whole: tuple[Any, bytes] | None = None  # the item's whole text and what it was made from
    causes: list[str] = field(default_factory=list)


_UNKNOWN: tuple[str, float, list[str], str] = ("unknown", 0.0, [], "")


def _avail_key(av: Availability | None) -> tuple[float | None, float] | None:
    """What an item's availability piece is made of (compared by value: every refresh
    makes new objects)."""
    return None if av is None else (av.ratio, av.target)


def _num(value: float) -> str:
    """A time as JSON: null for 0 (never), else as json.dumps writes a float."""
    return repr(float(value)) if value else "null"


@dataclass
class _Variant:
    """One variant of the /api/v1/status answer: each item's encoded text and state, by
    position in the page order, and which items must be looked at again."""

    sig: tuple[Any, ...]  # what every item's text depends on
    texts: list[bytes]
    states: list[tuple[str, float, list[str], str]]
    dirty: set[int] = field(default_factory=set)  # a result arrived since the last build
    notup: set[int] = field(default_factory=set)  # not up at the last build
    # how many of `states` are in each state, kept as they change: a build no longer counts
    # a thousand states to say so
    counts: dict[str, int] = field(default_factory=dict)


def _span_key(seconds: float) -> tuple[tuple[int, int], ...]:
    """What format_span's words are made of (its two largest non-zero units), without making
    the words: the cached "for how long" text is redone exactly when it would read
    differently (tests/unit/test_status.py holds the two together)."""
    s = max(0, round(seconds))
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    return tuple((i, v) for i, v in enumerate((d, h, m, sec)) if v)[:2]


def _flag(params: Mapping[str, list[str]], name: str, default: bool) -> bool:
    raw = (params.get(name) or [""])[0].lower()
    return default if raw == "" else raw not in ("0", "false", "no")


def _json(doc: Any, status: int = 200) -> Response:
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return status, JSON_TYPE, body.encode()


def _error(status: int, message: str) -> Response:
    return _json({"api_version": API_VERSION, "error": message}, status)
