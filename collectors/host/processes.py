"""Named services (`host.processes: [nginx, php-fpm, mysqld]`): is it running, what it costs,
and how often it was seen restarting — the first question at an office is "is the permit
portal's web server running".

A process belongs to a name when its executable name (psutil's name(), i.e. /proc/PID/comm)
or the basename of its argv[0] equals it; php-fpm's workers ("php-fpm: pool www") count too.
psutil is imported only when names are configured.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from collectors.base import MetricSpec, Sample

_L = ("process",)
METRICS = (
    MetricSpec("pantau_host_process_up", "gauge",
               "1 if at least one process of this name runs, else 0.", _L),
    MetricSpec("pantau_host_process_count", "gauge", "Processes of this name running.", _L),
    MetricSpec("pantau_host_process_cpu_seconds_total", "counter",
               "User and system CPU time of the processes of this name now running.", _L,
               "seconds"),
    MetricSpec("pantau_host_process_resident_memory_bytes", "gauge",
               "Resident memory of the processes of this name, summed.", _L, "bytes"),
    MetricSpec("pantau_host_process_open_fds", "gauge",
               "Open file descriptors of the processes of this name, summed (where readable).",
               _L),
    MetricSpec("pantau_host_process_start_time_seconds", "gauge",
               "Start time of the oldest process of this name (its master), unix time.", _L,
               "seconds"),
    MetricSpec("pantau_host_process_restarts_total", "counter",
               "Times the oldest process of this name was seen replaced or coming back since "
               "the agent started.", _L),
)


@dataclass
class _Seen:
    oldest: tuple[int, float] | None = None  # (pid, create_time)
    restarts: int = 0


def matches(name: str, comm: str, cmdline: list[str]) -> bool:
    if comm == name:
        return True
    if not cmdline:
        return False
    first = os.path.basename(cmdline[0])
    # "php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)" sets argv[0] to a sentence.
    return first == name or first.split(":")[0] == name


class NamedProcesses:
    def __init__(self, names: list[str]) -> None:
        self.names = list(names)
        self._seen = {n: _Seen() for n in self.names}

    def read(self) -> list[Sample]:
        import psutil

        groups: dict[str, list[Any]] = {n: [] for n in self.names}
        for p in psutil.process_iter(["name", "cmdline", "create_time"]):
            info = p.info
            for n in self.names:
                if matches(n, info.get("name") or "", info.get("cmdline") or []):
                    groups[n].append(p)
                    break
        out: list[Sample] = []
        for n, procs in groups.items():
            cpu = rss = fds = 0.0
            alive: list[tuple[float, int]] = []
            for p in procs:
                try:
                    with p.oneshot():
                        t = p.cpu_times()
                        cpu += t.user + t.system
                        rss += p.memory_info().rss
                        alive.append((p.info["create_time"], p.pid))
                        try:
                            fds += p.num_fds()
                        except psutil.AccessDenied:
                            pass
                except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                    continue
            seen = self._seen[n]
            oldest = min(alive) if alive else None
            now = (oldest[1], oldest[0]) if oldest else None
            if now is not None and seen.oldest is not None and now != seen.oldest:
                seen.restarts += 1
            if now is not None:
                seen.oldest = now
            labels = (("process", n),)
            out += [
                Sample("pantau_host_process_up", 1.0 if alive else 0.0, labels),
                Sample("pantau_host_process_count", float(len(alive)), labels),
                Sample("pantau_host_process_restarts_total", float(seen.restarts), labels),
            ]
            if alive:
                out += [
                    Sample("pantau_host_process_cpu_seconds_total", cpu, labels),
                    Sample("pantau_host_process_resident_memory_bytes", rss, labels),
                    Sample("pantau_host_process_open_fds", fds, labels),
                    Sample("pantau_host_process_start_time_seconds", oldest[0] if oldest else 0.0,
                           labels),
                ]
        return out
