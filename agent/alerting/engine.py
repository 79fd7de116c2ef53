"""Alerting: check results -> state machine -> history + outbox -> receivers.

Order of operations is the durability contract: a state change, its current status and the
notifications it causes are committed in ONE transaction *before* the change is shown on
/metrics or handed to the outbox. So whatever /metrics reported before a kill -9 is in the
history, and every notification in the outbox belongs to a recorded change. When the disk is
full the change is kept in memory and retried, monitoring goes on, and the failure is visible
(pantau_history_disk_full, pantau_history_write_errors_total, an error in the log).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.alerting.central import check_runbook
from agent.alerting.config import AlertsConfig
from agent.alerting.messages import render
from agent.alerting.outbox import Outbox
from agent.alerting.paths import PathFacts, auto_edges
from agent.alerting.roles import derive_roles, with_role
from agent.alerting.state import Damping, Graph, Notice, Outcome, State, StateMachine
from agent.history import (
    ChangeRow,
    EventRow,
    History,
    HistoryError,
    NewNotification,
    StatusRow,
)
from agent.i18n import event_text, reason_text
from agent.store import Result, Store
from collectors.base import MetricSpec, Observation, Sample
from collectors.common.tasks import cancel_all
from collectors.common.timefmt import resolve_zone
from collectors.config import CheckConfig
from exporters.notify import (
    AlertmanagerNotifier,
    AlertmanagerReceiver,
    EmailNotifier,
    EmailReceiver,
    Notification,
    Notifier,
    TelegramNotifier,
    TelegramReceiver,
    WebhookNotifier,
    WebhookReceiver,
)

if TYPE_CHECKING:
    from agent.config import AgentConfig

log = logging.getLogger(__name__)

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("pantau_check_up", "gauge",
               "1 if the check is up, 0 if down (after flap damping); absent while unknown."),
    MetricSpec("pantau_check_state_changes_total", "counter",
               "State changes of the check recorded in the outage history."),
    MetricSpec("pantau_check_root_cause", "gauge",
               "1 for each down check, with the root cause (the check itself if it is the root).",
               ("cause",)),
    MetricSpec("pantau_check_suppressed", "gauge",
               "1 while the check is down because a check it depends on is down (no alert)."),
    MetricSpec("pantau_notifications_total", "counter",
               "Notification delivery attempts by receiver and result (sent, retry, failed).",
               ("receiver", "result")),
    MetricSpec("pantau_outbox_pending", "gauge",
               "Notifications waiting in the outbox for delivery."),
    MetricSpec("pantau_history_write_errors_total", "counter",
               "Failed writes to the outage history (the change is kept and retried)."),
    MetricSpec("pantau_history_disk_full", "gauge",
               "1 while the outage history cannot be written because the disk is full."),
    MetricSpec("pantau_history_lost_total", "counter",
               "Times history.db was found deleted or replaced while pantau ran: the outage "
               "history before that is gone unless restored from a backup; a new file was "
               "started."),
    MetricSpec("pantau_check_acknowledged", "gauge",
               "1 while the check's current outage has been acknowledged (no repeats)."),
    MetricSpec("pantau_check_muted", "gauge",
               "1 while the check is in a maintenance window (notifications held back)."),
    MetricSpec("pantau_oncall_commands_total", "counter",
               "Commands and button presses the Telegram bot handled, by receiver, command "
               "and result (ok, refused, invalid, error).", ("receiver", "command", "result")),
    MetricSpec("pantau_oncall_refused_total", "counter",
               "Telegram updates refused because their chat or user is not allowed.",
               ("receiver",)),
    MetricSpec("pantau_oncall_malformed_updates_total", "counter",
               "Telegram updates that were not understood and were ignored.", ("receiver",)),
    MetricSpec("pantau_oncall_poll_errors_total", "counter",
               "Failed getUpdates polls (the bot backs off and retries).", ("receiver",)),
    MetricSpec("pantau_alert_playbook_runs_total", "counter",
               "Playbook runs triggered by down checks, by the check's playbook (NAME@HOST) "
               "and result (ok, failed, rate_limited, unavailable, declined, confirm_timeout).",
               ("playbook", "result")),
)

STORE_KEY = "self:alerting"


def make_notifier(r: Any, language: str = "id") -> Notifier:
    if isinstance(r, AlertmanagerReceiver):
        return AlertmanagerNotifier(r)
    if isinstance(r, TelegramReceiver):
        return TelegramNotifier(r, language)
    if isinstance(r, EmailReceiver):
        return EmailNotifier(r)
    if isinstance(r, WebhookReceiver):
        return WebhookNotifier(r)
    raise ValueError(f"unknown receiver type {type(r).__name__}")


def recorded_state(state: str, verdict: str, cause: str, check: str) -> str:
    """The state the history records: "unreachable" for a check that is down because a check
    it depends on is down (suppressed, or still attributed to that root while it proves it is
    down on its own), else the state machine's own."""
    if state == "down" and (verdict == "suppressed"
                            or (verdict == "pending" and cause not in ("", check))):
        return "unreachable"
    return state


def build_graph(checks: list[CheckConfig],
                extra: dict[str, list[str]] | None = None) -> Graph:
    """The written dependencies, plus `extra` ones (from discovered paths) merged in."""
    extra = extra or {}
    return Graph.build(
        [c.name for c in checks],
        {c.name: list(dict.fromkeys([*c.depends_on, *extra.get(c.name, [])]))
         for c in checks},
        {c.name: list(getattr(c, "depends_on_any", []) or []) for c in checks},
    )


# ------------------------------------------------------------------------------------------
# Runtime

PlaybookHook = Callable[[str, str, float], Awaitable[tuple[str, str]]]


@dataclass
class _Batch:
    outcome: Outcome
    notifications: list[Notification] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)


class Alerting:
    """Wire it into the agent: `Alerting(config, store, history_or_None, site)`, then
    `await start()` after the store exists and `await stop()` on shutdown."""

    def __init__(self, config: AgentConfig, store: Store, history: History | None = None,
                 site: str | None = None) -> None:
        self.store = store
        self.history = history
        self._own_history = history is None
        self._queue: list[_Batch] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._changes: dict[str, int] = {}
        self._recorded: dict[str, str] = {}  # check -> the state last written to the history
        self._notif_counts: dict[tuple[str, str], int] = {}
        self._playbook_counts: dict[tuple[str, str], int] = {}
        self._write_errors = 0
        self._disk_full = False
        self._lost_before = 0  # history files found lost by History objects already closed
        self._lost_error = ""  # the last failure to start a new history, logged once
        self._firing: dict[str, Notification] = {}
        self._roles_cache: tuple[Graph, dict[str, str]] | None = None
        # samples(): per check, what its series showed and the series; valid for one pair
        # of (self.checks, derived roles), compared by identity
        self._series_cache: dict[str, tuple[tuple[str, str, int], tuple[Sample, ...]]] = {}
        self._base_labels: dict[str, tuple[tuple[str, str], ...]] = {}
        self._series_for: tuple[object, object] | None = None
        self._flag_cache: dict[str, tuple[int, int, tuple[Sample, Sample]]] = {}
        self._published_pending = -1  # pantau_outbox_pending as last published
        self._unpublished = True  # counters moved that only the periodic publish shows
        # What /metrics shows: refreshed only after a history write was attempted, so a change
        # is never visible before it is committed (unless the disk is full).
        self._view: dict[str, tuple[str, str]] = {}
        self._started = False
        self._subscribed = False
        self.notifiers: dict[str, Notifier] = {}
        self.outbox: Outbox | None = None
        self.playbook_hook: PlaybookHook | None = None
        # check -> the acknowledgement of its current outage (cleared when it resolves)
        self.acks: dict[str, dict[str, Any]] = {}
        self._windows: list[tuple[float, float, tuple[str, ...], str]] = []
        self._last_sent: dict[str, float] = {}  # check -> when its firing alert last went out
        self.bots: list[Any] = []
        self.on_maintenance: Callable[[], None] | None = None  # e.g. the status page's refresh
        self.oncall_counts: dict[tuple[str, ...], int] = {}
        self._setup(config, site)

    def _setup(self, config: AgentConfig, site: str | None) -> None:
        self.config = config
        self.site = site or config.site
        self.cfg: AlertsConfig = config.alerts
        self.zone = resolve_zone(self.cfg.timezone)
        self.checks: dict[str, CheckConfig] = {c.name: c for c in config.checks}
        self._paths: dict[str, PathFacts] = {}
        self._addresses: dict[str, str] = {}
        self.machine = self._new_machine()
        self.playbook_hook = _make_playbook_hook(config) if self.cfg.playbooks.enabled else None

    def _refresh_view(self) -> None:
        self._view = {
            n: (st.state, self.machine.root_cause(n) if st.state == "down" else "")
            for n, st in self.machine.checks.items()
        }

    def _new_machine(self) -> StateMachine:
        damping = {n: Damping(d.failures, d.successes) for n, d in self.cfg.per_check.items()}
        return StateMachine(
            build_graph(list(self.checks.values())), damping,
            Damping(self.cfg.damping.failures, self.cfg.damping.successes),
            settle=self.cfg.settle, now=time.time(),
        )

    async def _db(self, fn: Callable[..., Any], *args: Any) -> Any:
        assert self.history is not None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.history.executor, fn, *args)

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        if self.history is None:
            try:
                self.history = await asyncio.to_thread(
                    History.open, self.config.state_dir, self.site)
            except HistoryError as e:
                # Monitoring goes on without alerting rather than not at all.
                log.error("alerting is OFF: %s", e)
                self._write_errors += 1
                self._disk_full = e.disk_full
                self.publish()
                return
        await self._restore()
        self.notifiers = {r.name: make_notifier(r, self.cfg.language)
                          for r in self.cfg.receivers}
        try:
            dropped = await self._db(self.history.drop_receivers_except, list(self.notifiers))
            if dropped:
                log.warning("%d undelivered notification(s) were for receivers no longer "
                            "configured; given up", dropped)
        except HistoryError as e:
            log.error("alerting: %s", e)
        self.outbox = Outbox(
            self.history, self.notifiers, initial_backoff=self.cfg.initial_backoff,
            max_backoff=self.cfg.max_backoff, on_result=self._count_delivery,
            on_change=self.publish,
        )
        if not self._subscribed:  # Store has no unsubscribe: subscribe once, gate on _started
            self.store.subscribe(self._on_result)
            self._subscribed = True
        await self.outbox.start()
        self._tasks = [
            asyncio.create_task(self._writer(), name="alerting-writer"),
            asyncio.create_task(self._ticker(), name="alerting-ticker"),
        ]
        if any(isinstance(n, AlertmanagerNotifier) for n in self.notifiers.values()):
            self._tasks.append(asyncio.create_task(self._am_refresher(), name="am-refresh"))
        await self._load_windows()
        with_bot = [n for n in self.notifiers.values()
                    if isinstance(n, TelegramNotifier) and n.cfg.bot.enabled]
        if with_bot:  # agent.oncall (the bot, its commands): loaded by agents that run a bot
            from agent.oncall import start_bots

            self.bots = start_bots(self, with_bot)
        self._started = True
        self._refresh_view()
        self.publish()

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        for bot in self.bots:
            await bot.stop()
        self.bots = []
        await cancel_all(self._tasks)
        self._tasks.clear()
        if self._queue:  # a last try to keep what was observed
            with contextlib.suppress(Exception):
                await self._flush()
        if self.outbox is not None:
            await self.outbox.stop()
        for n in self.notifiers.values():
            with contextlib.suppress(Exception):
                await n.aclose()
        if self._own_history and self.history is not None:
            self._lost_before += self.history.lost
            await asyncio.to_thread(self.history.close)
            self.history = None

    async def reload(self, config: AgentConfig) -> None:
        """Apply a new config: keep every check's state, rebuild graph and receivers."""
        try:  # refuse a graph that cannot work before touching the running one
            build_graph(list(config.checks))
            resolve_zone(config.alerts.timezone)
        except ValueError as e:
            log.error("alerting keeps its previous configuration: %s", e)
            return
        old = {n: (s.state, s.since, s.verdict, s.cause) for n, s in self.machine.checks.items()}
        await self.stop()
        self._setup(config, config.site)
        self._firing.clear()
        for name, (state, since, verdict, cause) in old.items():
            self.machine.restore(name, state, since, verdict, cause)
        await self.start()

    async def _check_history_file(self) -> None:
        """A deleted history.db is noticed within a second, not at the next state change
        (which may be days away), and shows as pantau_history_lost_total."""
        if self.history is None or self.history.file_unchanged():
            return
        try:
            lost = await self._db(self.history.check_file)
        except HistoryError as e:
            if str(e) != self._lost_error:
                log.error("outage history: %s", e)
                self._lost_error = str(e)
            return
        self._lost_error = ""
        if lost:
            self.publish()

    async def _restore(self) -> None:
        assert self.history is not None
        try:
            rows = await self._db(self.history.status)
            counts = await self._db(_change_counts, self.history)
        except Exception as e:
            log.error("alerting: cannot read the last states from history: %s", e)
            return
        self._changes = {k: v for k, v in counts.items() if k in self.checks}
        for r in rows:
            if r.check in self.checks and r.state in ("up", "down", "unreachable", "unknown"):
                self._recorded[r.check] = r.state
                state: State = "down" if r.state == "unreachable" else r.state
                self.machine.restore(r.check, state, r.since, r.verdict, r.root_cause)
        for name, st in self.machine.checks.items():
            if st.verdict == "firing":
                payload = await self._db(_last_firing, self.history, name)
                if payload:
                    with contextlib.suppress(TypeError):
                        self._firing[name] = Notification.from_dict(payload)
                        self._last_sent[name] = float(payload.get("at") or 0.0)
        try:
            acks = await self._db(self.history.acknowledgements)
        except HistoryError as e:
            log.error("alerting: cannot read acknowledgements: %s", e)
            acks = []
        for a in acks:  # only the acknowledgement of the outage still going on counts
            cur = self.machine.checks.get(a["check_name"])
            if cur is not None and cur.state == "down" and abs(cur.since - a["since"]) < 1e-6:
                self.acks[a["check_name"]] = a

    # -- input ----------------------------------------------------------------------------
    def _on_result(self, result: Result) -> None:
        if not self._started or not self.cfg.enabled:
            return
        if not result.key.startswith("check:") or result.name not in self.checks:
            return
        obs: Observation = result.observation
        if self.cfg.auto_dependencies:
            self._learn_path(result.name, obs)
        at = obs.timestamp or time.time()
        outcome = self.machine.observe(result.name, obs.success, at, obs.reason)
        change = obs.details.get("path_change")
        if isinstance(change, dict):
            self._path_changed(result.name, change, at, outcome)
        elif outcome:
            self._enqueue(outcome)

    def _path_changed(self, name: str, change: dict[str, Any], at: float,
                      outcome: Outcome) -> None:
        """A route change: an event in the history, and a notification when the path check
        asks for one (`alert_on_change`), written with the run's state changes."""
        event = EventRow(name, at, "path_change", event_text("path_change", change, "en"),
                         change)
        notes: list[Notification] = []
        if getattr(self.checks.get(name), "alert_on_change", False):
            if self.muted(name, at):
                log.info("check %s: route change notification held back (maintenance "
                         "window)", name)
            else:
                notes.append(self._event_notification(name, change, at))
        self._enqueue(outcome, [event], notes)

    def _learn_path(self, name: str, obs: Observation) -> None:
        """Keep the graph in step with the discovered paths (auto_dependencies)."""
        address = obs.details.get("address")
        changed = False
        if isinstance(address, str) and self._addresses.get(name) != address:
            self._addresses[name] = address
            changed = True
        hops = obs.details.get("hops")
        check = self.checks.get(name)
        # only a complete path says who is in front of whom; a broken one keeps the last
        if check is not None and check.type == "path" and obs.success and hops:
            facts = PathFacts(str(address), tuple(h["address"] for h in hops))
            if self._paths.get(name) != facts:
                self._paths[name] = facts
                changed = True
        if not changed:
            return
        edges = auto_edges(self.checks.values(), self._paths, self._addresses)
        try:
            graph = build_graph(list(self.checks.values()), edges)
        except ValueError as e:
            log.warning("auto_dependencies: discovered paths ignored: %s", e)
            return
        if graph != self.machine.graph:
            log.info("auto_dependencies: %s",
                     "; ".join(f"{c} -> {', '.join(p)}" for c, p in sorted(edges.items())))
            self.machine.graph = graph

    def _enqueue(self, outcome: Outcome, events: list[EventRow] | None = None,
                 extra: list[Notification] | None = None) -> None:
        now = time.time()
        for c in outcome.changes:
            if c.new != "down":
                self.acks.pop(c.check, None)
        notices = []
        for n in outcome.notices:
            # a resolution is still owed to whoever saw the alert; new alerts wait
            announced = n.kind == "resolved" and n.check in self._firing
            if self.muted(n.check, now) and not announced:
                log.info("check %s: %s notification held back (maintenance window)",
                         n.check, n.kind)
                continue
            notices.append(n)
        batch = _Batch(outcome, [self._notification(n) for n in notices] + (extra or []),
                       events or [])
        self._queue.append(batch)
        self._wake.set()
        if self._disk_full:  # nothing can be committed now: show the live state meanwhile
            self._refresh_view()
            self.publish()

    async def _ticker(self) -> None:
        last_load = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            now = time.time()
            outcome = self.machine.tick(now)
            if outcome:
                self._enqueue(outcome)
            if time.monotonic() - last_load >= 30:  # windows added by `pantau maintenance add`
                last_load = time.monotonic()
                await self._load_windows()
            self._repeat(now)
            await self._check_history_file()

    # -- on-call: repeats, acknowledgements, mutes ------------------------------------------
    def _repeat(self, now: float) -> None:
        every = self.cfg.repeat_interval
        if not every:
            return
        for name, st in self.machine.checks.items():
            first = self._firing.get(name)
            if st.verdict != "firing" or first is None or name in self.acks:
                continue
            if self.muted(name, now) or now - self._last_sent.get(name, first.at) < every:
                continue
            self._last_sent[name] = now
            again = dataclasses.replace(first, uid=str(uuid.uuid4()), at=now)
            self._queue.append(_Batch(Outcome(), [again]))
            self._wake.set()
            log.info("check %s: still down and unacknowledged, alert repeated", name)

    async def _load_windows(self) -> None:
        if self.history is None:
            return
        now = time.time()
        try:
            rows = await self._db(self.history.maintenance_windows, now - 60, None)
        except HistoryError as e:
            log.error("alerting: cannot read maintenance windows: %s", e)
            return
        windows = [(float(r["start"]), float(r["end"]), tuple(r["checks"]), str(r["reason"]))
                   for r in rows]
        changed, self._windows = windows != self._windows, windows
        if changed and self.on_maintenance is not None:
            self.on_maintenance()
        # Republished for what time alone changes (a window starting or ending, the outbox
        # draining): with no window and nothing new the samples are the same, and rebuilding
        # them is work proportional to the number of checks.
        pending = self.outbox.pending if self.outbox else 0
        if changed or windows or self._unpublished or pending != self._published_pending:
            self.publish()

    def muted(self, check: str, now: float) -> bool:
        """In a maintenance window that names the check (or names none: the whole site)."""
        return any(s <= now < e and (not checks or check in checks)
                   for s, e, checks, _ in self._windows)

    async def acknowledge(self, check: str, by_name: str, by_id: str, via: str) -> str:
        """ok, unknown, not_down or already (with who in self.acks)."""
        st = self.machine.checks.get(check)
        if st is None or check not in self.checks:
            return "unknown"
        if st.state != "down":
            return "not_down"
        if check in self.acks:
            return "already"
        assert self.history is not None
        at = time.time()
        await self._db(self.history.add_acknowledgement, check, st.since, by_name, by_id, at,
                       via)
        self.acks[check] = {"check_name": check, "since": st.since, "by_name": by_name,
                            "by_id": by_id, "at": at, "via": via}
        log.info("check %s: acknowledged by %s (%s) via %s", check, by_name, by_id, via)
        self.publish()
        return "ok"

    async def mute(self, check: str, seconds: float, reason: str) -> float:
        """A maintenance window for the check from now; returns its end."""
        assert self.history is not None
        now = time.time()
        await self._db(self.history.add_maintenance, now, now + seconds, [check], reason)
        await self._load_windows()
        log.info("check %s: muted until %.0f (maintenance window): %s", check, now + seconds,
                 reason)
        return now + seconds

    async def unmute(self, check: str) -> int:
        assert self.history is not None
        ended = int(await self._db(self.history.end_maintenance, check, time.time()))
        await self._load_windows()
        return ended

    def count_oncall(self, *key: str) -> None:
        self.oncall_counts[key] = self.oncall_counts.get(key, 0) + 1
        self.publish()

    # -- notifications --------------------------------------------------------------------
    def _link(self, template: str, check: str) -> str:
        return template.replace("{check}", check).replace("{site}", self.site)

    def _notification(self, notice: Notice) -> Notification:
        check = self.checks.get(notice.check)
        severity = check.severity if check else "critical"
        playbook = (check.playbook or "") if check else ""
        runbook = (self._link(self.cfg.runbook_url, notice.check)
                   or check_runbook(self.cfg.runbook_base_url))
        named = list(notice.members) or [notice.check]
        targets = tuple(
            (f"{t} ({n})" if len(named) > 1 else t)
            for n in named if (t := str(getattr(self.checks.get(n), "target", "") or ""))
        )
        reason = notice.reason
        if notice.members:  # each path's own reason: "uplink-a: ...; uplink-b: ..."
            reason = "; ".join(
                f"{m}: {reason_text(self.machine.checks[m].reason, self.cfg.language)}"
                for m in notice.members if m in self.machine.checks
                and self.machine.checks[m].reason)
        title, text = render(
            notice.kind, self.cfg.language, self.zone, site=self.site, check=notice.check,
            at=notice.at, since=notice.since, severity=severity, root_cause=notice.cause,
            reason=reason, playbook=playbook, runbook=runbook,
            was_suppressed=notice.was_suppressed, first_failure=notice.first_failure,
            members=notice.members, affected=notice.affected, targets=targets,
            status_url=self.cfg.status_url,
            dashboard_url=self._link(self.cfg.dashboard_url, notice.check),
            # a whole group of first-hop paths (nothing above them) with checks behind it:
            # the office's way out is gone, which is what the admin needs to read first
            office_cut_off=bool(notice.members and notice.affected) and not any(
                self.machine.graph.parents(m) for m in notice.members),
        )
        return Notification(
            uid=str(uuid.uuid4()), kind=notice.kind, site=self.site, check=notice.check,
            severity=severity, at=notice.at, since=notice.since, root_cause=notice.cause,
            reason=notice.reason, title=title, text=text, runbook=runbook, playbook=playbook,
            labels=with_role(check.labels, self._roles().get(notice.check))
            if check else {}, was_suppressed=notice.was_suppressed,
            first_failure=notice.first_failure, members=list(notice.members),
            affected=list(notice.affected), target=", ".join(targets),
        )

    def _event_notification(self, name: str, change: dict[str, Any],
                            at: float) -> Notification:
        check = self.checks.get(name)
        title, text = render(
            "path_change", self.cfg.language, self.zone, site=self.site, check=name, at=at,
            since=at, event=change, dashboard_url=self._link(self.cfg.dashboard_url, name))
        return Notification(
            uid=str(uuid.uuid4()), kind="path_change", site=self.site, check=name,
            severity="info", at=at, since=at, root_cause="", reason="", title=title,
            text=text, labels=dict(check.labels) if check else {},
            target=str(getattr(check, "target", "") or ""), event=dict(change))

    def test_notification(self, receiver: str) -> Notification:
        now = time.time()
        title, text = render("test", self.cfg.language, self.zone, site=self.site,
                             check="test", at=now, since=now, receiver=receiver)
        return Notification(uid=str(uuid.uuid4()), kind="test", site=self.site, check="test",
                            severity="info", at=now, since=now, root_cause="", reason="",
                            title=title, text=text)

    # -- writing --------------------------------------------------------------------------
    async def _writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                ok = await self._flush()
                if not ok:
                    await asyncio.sleep(5.0)  # disk full or I/O error: retry, keep monitoring

    async def _flush(self) -> bool:
        batches = list(self._queue)
        changes: list[ChangeRow] = []
        notes: list[NewNotification] = []
        verdicts: list[tuple[str, str, str]] = []
        events: list[EventRow] = []
        touched: set[str] = set()
        receivers = tuple(self.notifiers)
        recorded = dict(self._recorded)  # kept only when the write succeeds
        for b in batches:
            for c in b.outcome.changes:
                new = recorded_state(c.new, c.verdict, c.cause, c.check)
                changes.append(ChangeRow(c.check, c.at, recorded.get(c.check, c.old), new,
                                         c.reason, c.cause, c.verdict))
                recorded[c.check] = new
                touched.add(c.check)
            for v in b.outcome.verdicts:
                touched.add(v.check)
                if v.new == "suppressed":  # the down row of this outage becomes unreachable
                    recorded[v.check] = "unreachable"
                elif v.new == "firing" and recorded.get(v.check) == "unreachable":
                    # its root came back and it is still down: from now on its own outage
                    st = self.machine.checks.get(v.check)
                    changes.append(ChangeRow(v.check, v.at, "unreachable", "down",
                                             st.reason if st else "", v.cause, "firing"))
                    recorded[v.check] = "down"
                if v.new in ("suppressed", "firing"):
                    verdicts.append((v.check, v.cause, v.new))
            events.extend(b.events)
            for n in b.notifications:
                touched.add(n.check)
                notes.append(NewNotification(n.uid, n.check, n.kind, n.at, n.root_cause,
                                             n.to_dict(), receivers))
        statuses = []
        for name in sorted(touched):
            st = self.machine.checks.get(name)
            if st is not None:
                statuses.append(StatusRow(
                    name, recorded_state(st.state, st.verdict, st.cause, name), st.since,
                    st.verdict, st.cause))
        assert self.history is not None
        try:
            await self._db(self.history.record, changes, statuses, notes, None, verdicts,
                           events)
        except HistoryError as e:
            self._write_errors += 1
            if e.disk_full and not self._disk_full:
                log.error("outage history: disk full, %d change(s) kept in memory and retried; "
                          "monitoring continues: %s", len(changes), e)
            elif not e.disk_full:
                log.error("outage history write failed (kept and retried): %s", e)
            self._disk_full = e.disk_full
            self._refresh_view()
            self.publish()
            return False
        if self._disk_full:
            log.warning("outage history writable again; %d held change(s) recorded",
                        len(changes))
        self._disk_full = False
        self._recorded = recorded
        del self._queue[:len(batches)]
        for row in changes:
            self._changes[row.check] = self._changes.get(row.check, 0) + 1
        for b in batches:
            for n in b.notifications:
                if n.kind == "firing":
                    if self._firing.get(n.check, n).since != n.since or \
                            n.check not in self._firing:
                        self._maybe_playbook(n)
                    self._firing[n.check] = n
                    self._last_sent[n.check] = n.at
                elif n.kind == "resolved":
                    self._firing.pop(n.check, None)
            for ev in b.events:
                log.info("check %s: %s", ev.check, ev.text)
            for c in b.outcome.changes:
                if c.new == "down":
                    log.warning("check %s is down (%s -> down): %s", c.check, c.old,
                                c.reason or "no reason given")
                else:
                    log.info("check %s: %s -> %s", c.check, c.old, c.new)
            for v in b.outcome.verdicts:
                if v.new in ("suppressed", "firing"):
                    log.info("check %s: %s (root cause %s)", v.check,
                             "notifying" if v.new == "firing" else "suppressed", v.cause)
        # The view first: refresh_pending() publishes (its on_change), and must not publish
        # the state from before this commit (remote write would push it as the newest value).
        # One publish per flush: it re-renders every check's pantau_check_* series, ~20 ms at
        # 1,000 checks, and a flush follows every round of state changes.
        self._refresh_view()
        if self.outbox is not None:
            if notes:
                self.outbox.wake()
            await self.outbox.refresh_pending()
        else:
            self.publish()
        return True

    # -- Alertmanager keep-alive ------------------------------------------------------------
    async def _am_refresher(self) -> None:
        """Re-send firing alerts like Prometheus does, so they don't expire in Alertmanager;
        only when the receiver's queue is empty, so order is never broken."""
        ams = [n for n in self.notifiers.values() if isinstance(n, AlertmanagerNotifier)]
        interval = min(n.cfg.resend_interval for n in ams)
        while True:
            await asyncio.sleep(interval)
            firing = [self._firing[c] for c, st in self.machine.checks.items()
                      if st.verdict == "firing" and c in self._firing]
            if not firing:
                continue
            for am in ams:
                try:
                    item = await self._db(self.history.next_pending, am.name) \
                        if self.history else None
                    if item is None:
                        await am.post(firing, am.cfg.timeout)
                except Exception as e:
                    log.debug("alertmanager %s refresh failed: %s", am.name, e)

    # -- playbooks ------------------------------------------------------------------------
    def _maybe_playbook(self, n: Notification) -> None:
        if not n.playbook:
            return
        task = asyncio.create_task(self._run_playbook(n.check, n.playbook),
                                   name=f"playbook:{n.check}")
        self._tasks.append(task)

    async def _run_playbook(self, check: str, playbook: str) -> None:
        assert self.history is not None
        pol = self.cfg.playbooks
        started = time.time()
        try:
            recent = await self._db(self.history.playbook_runs_since, check, started - 3600)
        except Exception as e:
            log.error("playbook %s for %s: cannot read history: %s", playbook, check, e)
            return
        if not pol.enabled or playbook.partition("@")[0] not in pol.allowed:
            result, output = "not_allowed", "not enabled/allowed in alerts.playbooks"
        elif recent >= pol.max_runs_per_hour:
            result, output = "rate_limited", f"{recent} run(s) in the last hour"
        elif self.playbook_hook is None:
            result, output = "unavailable", "no playbook runner in this build"
        else:
            result, output = await self._confirm_and_run(check, playbook)
        key = (playbook, result)
        self._playbook_counts[key] = self._playbook_counts.get(key, 0) + 1
        log.info("playbook %s for %s: %s", playbook, check, result)
        try:
            await self._db(self.history.record_playbook_run, check, playbook, "alert", started,
                           time.time(), result, output)
        except Exception as e:
            log.error("playbook run of %s not recorded: %s", playbook, e)
        self.publish()

    async def _confirm_and_run(self, check: str, playbook: str) -> tuple[str, str]:
        pol = self.cfg.playbooks
        assert self.playbook_hook is not None
        who = ""
        if pol.confirm_via:  # a person says yes first, in Telegram, or nothing runs
            bot = next((b for b in self.bots if b.name == pol.confirm_via), None)
            if bot is None:
                return "unavailable", f"confirmation bot {pol.confirm_via!r} not running"
            run, result, who = await bot.confirm(check, playbook, pol.confirm_timeout)
            log.info("playbook %s for %s: %s", playbook, check, who)
            if not run:
                return result, who
        try:
            result, output = await asyncio.wait_for(
                self.playbook_hook(check, playbook, pol.timeout), pol.timeout + 5)
        except TimeoutError:
            result, output = "timeout", f"no result within {pol.timeout:g}s"
        except Exception as e:
            result, output = "error", f"{type(e).__name__}: {e}"
        return result, f"{who}; {output}" if who else output

    # -- metrics --------------------------------------------------------------------------
    def _count_delivery(self, receiver: str, result: str) -> None:
        key = (receiver, result)
        self._notif_counts[key] = self._notif_counts.get(key, 0) + 1
        self._unpublished = True

    def _roles(self) -> dict[str, str]:
        """Derived roles, worked out again only when the graph is replaced (a reload, new
        path edges): samples() runs on every publish and must not walk every check."""
        graph = self.machine.graph
        if self._roles_cache is None or self._roles_cache[0] is not graph:
            self._roles_cache = (graph, derive_roles(graph))
        return self._roles_cache[1]

    def _check_series(self, name: str, roles: dict[str, str]) -> tuple[Sample, ...]:
        """A check's pantau_check_* samples, made again only when what they show moved: a
        publish at 1,000 checks otherwise builds ~4,000 label tuples and samples for the few
        checks that changed (and Store.put keeps an unchanged sample as it is)."""
        state, cause = self._view.get(name, ("unknown", ""))
        key = (state, cause, self._changes.get(name, 0))
        hit = self._series_cache.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]
        base = self._base_labels.get(name)
        if base is None:
            extra = tuple(sorted(with_role(self.checks[name].labels, roles.get(name)).items())
                          ) if name in self.checks else ()
            base = self._base_labels[name] = (("check", name), *extra)
        out: list[Sample] = []
        if state != "unknown":
            out.append(Sample("pantau_check_up", 1.0 if state == "up" else 0.0, base))
            suppressed = state == "down" and cause != name
            out.append(Sample("pantau_check_suppressed", 1.0 if suppressed else 0.0, base))
        out.append(Sample("pantau_check_state_changes_total", float(key[2]), base))
        if state == "down":
            out.append(Sample("pantau_check_root_cause", 1.0, (*base, ("cause", cause))))
        series = tuple(out)
        self._series_cache[name] = (key, series)
        return series

    def samples(self) -> list[Sample]:
        out: list[Sample] = []
        roles = self._roles()
        sf = self._series_for
        if sf is None or sf[0] is not self.checks or sf[1] is not roles:
            # a reload (new check configs) or a new graph (derived roles): labels may differ
            self._series_for = (self.checks, roles)
            self._series_cache.clear()
            self._base_labels.clear()
            self._flag_cache.clear()
        for name in sorted(self.machine.checks):
            out.extend(self._check_series(name, roles))
        for r in self.notifiers:
            for result in ("sent", "retry", "failed"):
                out.append(Sample.of("pantau_notifications_total",
                                     self._notif_counts.get((r, result), 0),
                                     receiver=r, result=result))
        out.append(Sample.of("pantau_outbox_pending",
                             self.outbox.pending if self.outbox else 0))
        out.append(Sample.of("pantau_history_write_errors_total", self._write_errors))
        out.append(Sample.of("pantau_history_disk_full", 1 if self._disk_full else 0))
        lost = self._lost_before + (self.history.lost if self.history is not None else 0)
        out.append(Sample.of("pantau_history_lost_total", lost))
        now = time.time()
        flags = self._flag_cache
        for name in sorted(self.checks):
            down = self._view.get(name, ("unknown", ""))[0] == "down"
            acked = 1 if down and name in self.acks else 0
            muted = 1 if self._windows and self.muted(name, now) else 0
            hit = flags.get(name)
            if hit is None or hit[0] != acked or hit[1] != muted:
                hit = flags[name] = (acked, muted, (
                    Sample.of("pantau_check_acknowledged", acked, check=name),
                    Sample.of("pantau_check_muted", muted, check=name)))
            out.extend(hit[2])
        for key, v in sorted(self.oncall_counts.items()):
            if key[0] == "command":
                out.append(Sample.of("pantau_oncall_commands_total", v, receiver=key[1],
                                     command=key[2], result=key[3]))
            else:
                out.append(Sample.of(f"pantau_oncall_{key[0]}_total", v, receiver=key[1]))
        for (pb, result), v in sorted(self._playbook_counts.items()):
            out.append(Sample.of("pantau_alert_playbook_runs_total", v, playbook=pb, result=result))
        return out

    def publish(self) -> None:
        """Put our samples in the store (per_check=False: the `check` label is our own)."""
        self._published_pending = self.outbox.pending if self.outbox else 0
        self._unpublished = False
        self.store.put(STORE_KEY, "alerting", "alerting", Observation(True, self.samples()),
                       per_check=False)


def _change_counts(history: History) -> dict[str, int]:
    rows = history.conn.execute(
        "SELECT check_name, count(*) FROM state_changes GROUP BY check_name").fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


def _last_firing(history: History, check: str) -> dict[str, Any] | None:
    import json

    row = history.conn.execute(
        "SELECT payload FROM notifications WHERE check_name=? AND kind='firing'"
        " ORDER BY id DESC LIMIT 1", (check,)).fetchone()
    return json.loads(row[0]) if row else None


def _make_playbook_hook(config: AgentConfig) -> PlaybookHook | None:
    """Use the SSH playbook runner (playbooks/runner.py) when it and an `ssh:` section exist.

    A check names its playbook as NAME@HOST, HOST from ssh.hosts. The runner enforces its own
    allow-list (ssh.allowed_playbooks) and per-host interval on top of alerts.playbooks.
    """
    try:
        from playbooks.audit import JsonlAuditSink
        from playbooks.runner import AlertTrigger
    except ImportError:
        return None
    section = getattr(config, "ssh", None)
    if section is None or not hasattr(section, "audit_log_path"):
        return None
    state_dir = getattr(config, "state_dir", None)
    trigger = AlertTrigger(section, JsonlAuditSink(section.audit_log_path(state_dir)),
                           section.known_hosts_path(state_dir))

    async def hook(check: str, playbook: str, budget: float) -> tuple[str, str]:
        name, _, host = playbook.partition("@")
        if not host:
            return "unavailable", "no target host: name the playbook as NAME@HOST (ssh.hosts)"
        ok, msg = await asyncio.to_thread(trigger.trigger, name, host, check)
        if ok:
            return "ok", msg
        return ("rate_limited" if msg.startswith("rate-limited") else "failed"), msg

    return hook
