"""The running agent: config -> scheduler -> store -> exposition -> HTTP endpoint, plus reload.

Reload (SIGHUP or POST /-/reload) validates the new config completely before touching the
running one: a broken file is refused, logged with every error, and the old config keeps
running (pantau_config_last_reload_successful drops to 0 until a good one is loaded).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import platform
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent import __version__, process_metrics
from agent.alerting.engine import METRICS as ALERTING_METRICS
from agent.alerting.engine import STORE_KEY as ALERTING_STORE_KEY
from agent.config import AgentConfig, ConfigError, load_config, parse_listen
from agent.probe import ProbeHandler, make_handler
from agent.probe.snmp import make_snmp_handler
from agent.scheduler import SELF_METRICS, Scheduler
from agent.store import Result, Store
from collectors import REGISTRY
from collectors.base import JobSpec, MetricSpec, Observation, Sample
from exporters.exposition import Exposition
from exporters.remote_write.config import METRICS as REMOTE_WRITE_METRICS

if TYPE_CHECKING:
    from agent.alerting import Alerting
    from exporters.http_server import MetricsServer
    from exporters.remote_write import RemoteWriter
    from exporters.webconfig import WebConfig

log = logging.getLogger(__name__)

RUNTIME_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "pantau_build_info", "info",
        "Always 1; labels say which pantau runs and how it can ping.",
        ("version", "python", "icmp_mode"),
    ),
    MetricSpec(
        "pantau_config_last_reload_successful", "gauge",
        "1 if the last configuration (re)load succeeded, 0 if the new file was refused.",
    ),
    MetricSpec(
        "pantau_config_last_reload_success_timestamp_seconds", "gauge",
        "When the configuration was last loaded successfully.",
    ),
    MetricSpec(
        "pantau_start_time_seconds", "gauge", "When this agent process started.",
    ),
)

ConfigSource = Callable[[], AgentConfig]


def all_metric_specs() -> list[MetricSpec]:
    """Every family pantau can emit: the catalogue docs and dashboards are checked against."""
    specs: list[MetricSpec] = [*RUNTIME_METRICS, *SELF_METRICS, *process_metrics.METRICS]
    for cls in REGISTRY.values():
        specs.extend(cls.METRICS)
    specs.extend(ALERTING_METRICS)
    specs.extend(REMOTE_WRITE_METRICS)
    return specs


def own_metric_specs(types: set[str]) -> list[MetricSpec]:
    """The agent's own families and those of the collector types given (a job's `type`):
    declaring only these keeps the modules of unused collectors unloaded."""
    specs: list[MetricSpec] = [*RUNTIME_METRICS, *SELF_METRICS, *process_metrics.METRICS]
    for t in REGISTRY:  # registry order, as all_metric_specs
        if t in types:
            specs.extend(REGISTRY[t].METRICS)
    specs.extend(ALERTING_METRICS)
    specs.extend(REMOTE_WRITE_METRICS)
    return specs


def icmp_mode() -> str:
    from collectors.probe.pinger import detect_mode

    try:
        return str(detect_mode())
    except Exception:
        return "none"


class Agent:
    def __init__(
        self,
        load: ConfigSource,
        config_path: Path | None,
        listen: str | None,
        initial: AgentConfig | None = None,
        enable_lifecycle: bool = False,
    ) -> None:
        self._load = load
        self.enable_lifecycle = enable_lifecycle
        self.config_path = config_path
        self.config = initial if initial is not None else load()
        self.listen = listen or self.config.listen
        self.store = Store(self.config.site)
        # Only the families of the collectors configured (the rest are imported and declared
        # with the first user-defined family, see _declare_all)
        self.exposition = Exposition(own_metric_specs({j.type for j in self.config.jobs()}))
        self._all_declared = False
        if self.config.snmp.metric_specs():
            self._declare_all()
        self.exposition.declare(self.config.snmp.metric_specs())  # user SNMP profiles
        self.scheduler = Scheduler(self.store, self.config.max_concurrency)
        self.started = time.time()
        self.reload_ok = True
        self.reload_ts = time.time()
        self._stop = asyncio.Event()
        self._ready = False
        self._reload_lock = asyncio.Lock()
        self._icmp_mode = icmp_mode()
        self.store.subscribe(self._on_result)
        self.store.subscribe_removals(self._on_remove)
        self.server: MetricsServer | None = None
        self.remote_writer: RemoteWriter | None = None
        self._rw_task: asyncio.Task[None] | None = None
        # the alerting engine's last published samples, and them by check (made when needed)
        self._alert_samples: list[Sample] = []
        self._alert_series: dict[str, list[Sample]] | None = {}
        self.store.subscribe(self._on_result_push)
        self.alerting: Alerting | None = None
        from agent.status import StatusService

        self.status = StatusService(lambda: self.config, lambda: self.alerting)
        self.store.subscribe(self.status.on_result)
        self.store.subscribe_removals(self.status.on_remove)

    # -- store -> exposition ------------------------------------------------------------
    def _declare_all(self) -> None:
        """Every family pantau has, before the first one a user defines (SNMP profiles, a
        snmp.yml module, a *.prom file): none of those may take a pantau family's name, as
        when every family was declared at start."""
        if not self._all_declared:
            self._all_declared = True
            self.exposition.declare(all_metric_specs())

    def _jobs(self, config: AgentConfig) -> list[JobSpec]:
        jobs = config.jobs()
        self.exposition.declare(own_metric_specs({j.type for j in jobs}))
        return jobs

    def _on_result(self, result: Result) -> None:
        if result.observation.specs:
            self._declare_all()
            self.exposition.declare(result.observation.specs)
        # re-renders this source's lines only; the body is built by the next scrape
        self.exposition.update(result.key, result.samples)

    def _on_remove(self, key: str) -> None:
        self.exposition.remove(key)

    def _publish_runtime(self) -> None:
        samples = [
            Sample.of("pantau_build_info", 1, version=__version__,
                      python=platform.python_version(), icmp_mode=self._icmp_mode),
            Sample.of("pantau_config_last_reload_successful", 1 if self.reload_ok else 0),
            Sample.of("pantau_config_last_reload_success_timestamp_seconds", self.reload_ts),
            Sample.of("pantau_start_time_seconds", self.started),
        ]
        self.store.put("self:runtime", "runtime", "self", Observation(True, samples),
                       per_check=False)

    async def _publish_process(self) -> None:
        """process_* every 5 s: often enough for rate() at any usual scrape interval."""
        while True:
            try:
                samples = await asyncio.to_thread(process_metrics.samples)
            except Exception as e:  # psutil missing or /proc unreadable: the rest runs on
                log.warning("process metrics unavailable: %s", e)
                return
            self.store.put("self:process", "process", "self", Observation(True, samples),
                           per_check=False)
            await asyncio.sleep(5)

    # -- lifecycle ----------------------------------------------------------------------
    async def run(self) -> None:
        from agent import logs
        from exporters.http_server import MetricsServer

        host, port = parse_listen(self.listen)
        web_config = _web_config_of(self.config)
        log.info("pantau %s starting", __version__)
        for line in logs.summary(self.config, self.config_path, self.listen):
            log.info("start-up: %s", line)
        for line in logs.warnings(self.config, self.config_path, self._icmp_mode):
            log.warning("%s", line)
        self._publish_runtime()
        own = asyncio.create_task(self._publish_process(), name="process-metrics")
        from agent.alerting import Alerting

        self.alerting = Alerting(self.config, self.store, None, self.config.site)
        self.alerting.on_maintenance = self.status.kick  # a mute shows on the page at once
        await self.alerting.start()  # before the scheduler: no result may be missed
        from agent.reports.schedule import monthly_loop

        # After alerting.start(): that creates and migrates the history the report reads.
        monthly = asyncio.create_task(monthly_loop(lambda: self.config), name="monthly-report")
        await self.scheduler.start(self._jobs(self.config))
        await self.status.start()
        try:
            await self._start_remote_write()  # push runs beside pull
        except ValueError as e:  # its queue cannot be opened (read-only state dir, ...)
            log.error("remote write is OFF until a reload: %s; monitoring and /metrics go on",
                      e)
        server = MetricsServer(
            self.exposition, host, port, web_config=web_config,
            ready=lambda: self._ready, reload=self.reload if self.enable_lifecycle else None,
            probe=self._probe_handler(), snmp=make_snmp_handler(lambda: self.config),
            status=self.status.handle, open_path=self.status.open_path,
            site=self.config.site,
        )
        await server.start()
        self.server = server
        log.info("pantau %s for site %r listening on %s (%d jobs)", __version__,
                 self.config.site, self.listen, len(self.scheduler.jobs))
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
        loop.add_signal_handler(signal.SIGTERM, self._stop.set)
        loop.add_signal_handler(signal.SIGINT, self._stop.set)
        await self.scheduler.wait_first_results(timeout=15)
        self.exposition.refresh()  # the first scrape finds the body built
        # What exists now (modules, config models, collectors) lives as long as the process:
        # frozen, a full garbage collection no longer walks it, which took ~100 ms at 1,000
        # checks and showed up as the p99 of every endpoint.
        gc.freeze()
        restore_gc = _tune_for_latency()
        pacer = asyncio.create_task(GcPacer(self.store).run(), name="gc-pacer")
        _return_free_memory()
        self._ready = True
        try:
            await self._stop.wait()
        finally:
            log.info("stopping")
            await server.stop()
            await self.scheduler.stop()
            await self._stop_remote_write()
            await self.alerting.stop()
            await self.status.stop()
            monthly.cancel()
            own.cancel()
            pacer.cancel()
            restore_gc()

    # -- remote_write: push every result; the queue outlives restarts --------------------
    def _on_result_push(self, result: Result) -> None:
        if result.key == ALERTING_STORE_KEY:
            # split by check when remote write first needs it: at 1,000 checks the split is
            # ~5,000 samples per publish, for nothing when no remote write is configured
            self._alert_samples = result.samples
            self._alert_series = None
        if self.remote_writer is None:
            return
        self.remote_writer.enqueue(result.observation.timestamp, result.samples)
        if result.key.startswith("check:"):
            mine = self._alert_by_check().get(result.name)
            if mine is not None:
                # The alerting engine publishes pantau_check_up and its kin only when
                # something changes, so pushed alone they were a sample per state change:
                # nothing said the check was watched in between (a central report's
                # monitored time and coverage came out short, VictoriaMetrics showed no
                # value at all). A scrape sees the current state every time; so does remote
                # write now, with each check result, stamped now as a scrape would be (the
                # state as of this moment, and never older than what the engine last
                # published).
                self.remote_writer.enqueue(time.time(), mine)

    def _alert_by_check(self) -> dict[str, list[Sample]]:
        """The alerting engine's last published samples by their `check` label."""
        if self._alert_series is None:
            by_check: dict[str, list[Sample]] = {}
            for s in self._alert_samples:
                check = dict(s.labels).get("check")
                if check is not None:
                    by_check.setdefault(check, []).append(s)
            self._alert_series = by_check
        return self._alert_series

    async def _start_remote_write(self) -> None:
        if self.config.remote_write is None:
            return
        from exporters.remote_write import RemoteWriter

        writer = RemoteWriter(self.config.remote_write, self.config.state_dir, self.config.site)
        await writer.start()
        self.remote_writer = writer
        self._rw_task = asyncio.create_task(self._publish_remote_write(writer))

    async def _publish_remote_write(self, writer: Any) -> None:
        while True:
            self.store.put("self:remote_write", "remote_write", "self",
                           Observation(True, writer.samples()), per_check=False)
            await asyncio.sleep(5)

    async def _stop_remote_write(self) -> None:
        if self._rw_task is not None:
            self._rw_task.cancel()
            self._rw_task = None
        if self.remote_writer is not None:
            writer, self.remote_writer = self.remote_writer, None
            await writer.stop()
            self.store.remove("self:remote_write")

    def _probe_handler(self) -> ProbeHandler:
        return make_handler(lambda: self.config)

    async def reload(self) -> tuple[bool, str]:
        async with self._reload_lock:
            try:
                new = await asyncio.to_thread(self._load)
            except ConfigError as e:
                self.reload_ok = False
                self._publish_runtime()
                log.error("reload refused, keeping the running config:\n%s", e.render())
                return False, e.render()
            except Exception as e:  # never let a reload kill the agent
                self.reload_ok = False
                self._publish_runtime()
                log.error("reload refused, keeping the running config: %s", e)
                return False, str(e)
            try:  # the web config too, like exporter-toolkit: users, certificates, TLS on/off
                if self.server is not None:
                    web = await asyncio.to_thread(_web_config_of, new)
                    await self.server.apply_web_config(web)
            except Exception as e:  # ValueError, OSError, or a bug: a refused reload all the same
                self.reload_ok = False
                self._publish_runtime()
                log.error("reload refused, keeping the running config: %s", e)
                return False, str(e)
            if new.listen != self.config.listen and self.config_path is not None:
                log.warning("listen address changes take effect on restart only")
            if new.state_dir != self.config.state_dir:
                # The lock (one agent per state dir) was taken on the old dir at start.
                log.warning("state_dir changes take effect on restart only; keeping %s",
                            self.config.state_dir)
                new = new.model_copy(update={"state_dir": self.config.state_dir})
            # unchanged checks keep running through a reload, unless what every job shares
            # (the site label, the concurrency limit) changed
            keep_jobs = (new.site == self.config.site
                         and new.max_concurrency == self.config.max_concurrency)
            if new.site != self.config.site:
                self.store.site = new.site
            if not keep_jobs:
                await self.scheduler.stop()
            rw_changed = new.remote_write != self.config.remote_write
            self.config = new
            if self.alerting is not None:
                await self.alerting.reload(new)
            if rw_changed:
                await self._stop_remote_write()
                try:
                    await self._start_remote_write()
                except ValueError as e:
                    log.error("%s; remote write stays off until the next reload", e)
            if keep_jobs:
                kept, started = await self.scheduler.update(self._jobs(new))
                log.info("reload: %d job(s) unchanged and still running, %d (re)started",
                         kept, started)
            else:
                self.scheduler = Scheduler(self.store, new.max_concurrency)
                await self.scheduler.start(self._jobs(new))
            self.status.kick()
            self.reload_ok = True
            self.reload_ts = time.time()
            self._publish_runtime()
            log.info("configuration reloaded (%d jobs)", len(self.scheduler.jobs))
            return True, "configuration reloaded"


# Garbage collection paced by the agent rather than by allocation counts. CPython starts a
# young collection when allocations minus deallocations pass 700; the agent replaces each
# result's objects with new ones, so the two nearly cancel and the young generations grew to
# tens of thousands of objects between collections: each collection then stalled the event loop
# for 10-50 ms, and so every HTTP answer in flight. A full collection walks every object made
# since start-up (~100,000 at 1,000 checks, 50-120 ms) and came every ~15 s. So the two young
# generations are collected together every GC_YOUNG s, between two event-loop callbacks: each
# object is walked once before it becomes old, and a collection covers only what the last
# GC_YOUNG s made (a burst of 1,000 results: ~1-3 ms; quiet: ~0). The full collection runs every
# GC_FULL s; CPython's allocation threshold for it is moved out of reach, since at 1,000 checks
# it came every ~15 s, 50-90 ms each, and showed as the p99 of every endpoint. That holds only
# while garbage here is freed by reference counting: the HTTP server breaks the cycles asyncio
# leaves behind a closed connection (exporters/http_server.py _end_stream, _forget; without that
# a flood of reconnecting TLS clients grew the agent past 450 MiB, tests/peers/test_http_flood.py
# and test_http_conn_cycles.py), and GC_FULL_GROWTH below bounds whatever cycles remain.
GC_YOUNG = 0.05
GC_FULL = 300.0
GC_THRESHOLDS = (700, 10, 10**6)
# How long a thread may hold the GIL before handing it over (Python's default 5 ms): a worker
# thread in Python code (/proc parsing, SQLite rows, psutil) made the event loop wait up to
# that long at each hand-off, several times per answer.
SWITCH_INTERVAL = 0.001


def _tune_for_latency() -> Callable[[], None]:
    """Apply the settings above; returns what puts the previous ones back (an agent run inside
    a test process must not leave them behind)."""
    thresholds, interval = gc.get_threshold(), sys.getswitchinterval()
    gc.set_threshold(*GC_THRESHOLDS)
    sys.setswitchinterval(SWITCH_INTERVAL)

    def restore() -> None:
        gc.set_threshold(*thresholds)
        sys.setswitchinterval(interval)

    return restore


# Cyclic garbage that outlives two young collections (TLS connections of a flood of clients,
# say) is only freed by a full collection: when the resident size has grown by GC_FULL_GROWTH
# since the last one, the next one runs at once instead of waiting out GC_FULL, so memory
# stays bounded whatever the clients do (tests/peers/test_http_flood.py).
GC_FULL_GROWTH = 16 * 1024 * 1024
GC_GROWTH_CHECK = 0.2


# An agent with nothing to do paid ~5 ms of CPU a second for waking the pacer 20 times a second
# (0.11-0.14 against 0.03 CPU s per 20 s with one check: BENCHMARKS.md "Idle cost"). So it paces
# itself: every GC_YOUNG s while results come in or the young generation fills (HTTP clients),
# the wait doubling up to GC_IDLE while neither happens, and the first result after a quiet
# spell ends a long wait at once (a burst must not grow the young generation for a second).
GC_IDLE = 1.0
GC_BUSY_COUNT = 300  # gc.get_count()[0] above this: objects are being made, keep the pace


def next_wait(wait: float, busy: bool) -> float:
    """The pacer's next sleep after one of `wait` s."""
    return GC_YOUNG if busy else min(wait * 2, GC_IDLE)


class GcPacer:
    """The collections described at GC_YOUNG, GC_FULL_GROWTH and GC_IDLE."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._wake: asyncio.Future[None] | None = None
        store.subscribe(self._on_result)

    def _on_result(self, result: Result) -> None:
        w = self._wake
        if w is not None and not w.done():
            w.set_result(None)

    async def _sleep(self, loop: asyncio.AbstractEventLoop, wait: float) -> None:
        if wait <= GC_YOUNG:
            await asyncio.sleep(wait)
            return
        wake = self._wake = loop.create_future()
        timer = loop.call_later(wait, _resolve, wake)
        try:
            await wake
        finally:
            timer.cancel()
            self._wake = None

    async def run(self) -> None:
        rss = _Resident()
        try:
            await self._pace(rss)
        finally:
            rss.close()

    async def _pace(self, rss: _Resident) -> None:
        loop = asyncio.get_running_loop()
        base = rss.read()
        last_full = last_check = loop.time()
        seen = self.store.version
        wait = GC_YOUNG
        while True:
            await self._sleep(loop, wait)
            now = loop.time()
            busy = self.store.version != seen or gc.get_count()[0] > GC_BUSY_COUNT
            seen = self.store.version
            full = now - last_full >= GC_FULL
            if not full and now - last_check >= GC_GROWTH_CHECK:
                last_check = now
                full = rss.read() - base > GC_FULL_GROWTH
            if full:
                gc.collect(2)
                last_full = now
                base = rss.read()
            else:
                gc.collect(1)
            wait = next_wait(wait, busy)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class _Resident:
    """The process's resident size from /proc/self/statm (the file psutil reads for
    process_resident_memory_bytes), kept open: the pacer reads it five times a second while
    busy, one pread instead of psutil's open, read and parse each time. 0 where there is no
    /proc (the growth check then never fires; the 5-min collection still runs)."""

    def __init__(self) -> None:
        self._page = os.sysconf("SC_PAGE_SIZE")
        try:
            self._fd: int | None = os.open("/proc/self/statm", os.O_RDONLY)
        except OSError:
            self._fd = None

    def read(self) -> int:
        if self._fd is None:
            return 0
        try:
            return int(os.pread(self._fd, 128, 0).split()[1]) * self._page
        except (OSError, IndexError, ValueError):
            return 0

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _return_free_memory() -> None:
    """Hand the heap that start-up freed (YAML nodes and validation of the config, ~10 MiB at
    1,000 checks, about 1 MiB for a host-only config) back to the kernel: glibc keeps it
    otherwise, and it shows as RSS for the life of the process."""
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def _web_config_of(config: AgentConfig) -> WebConfig:
    """The validated web config (plain HTTP, no users when none is set); ValueError naming the
    file and field otherwise."""
    from exporters.webconfig import WebConfig, load_web_config

    if config.web_config_file is None:
        return WebConfig()
    return load_web_config(config.web_config_file)


def file_loader(path: Path) -> ConfigSource:
    return lambda: load_config(path)
