"""The agent's own process metrics, as every Prometheus exporter has them (process_*).

Names, types and HELP texts are the client libraries' (client_golang, client_python), so the
"Prometheus exporter" dashboards and the node-mixin's resource panels read pantau like any
other exporter. psutil is the source; it is imported on first use, in a thread.
"""

from __future__ import annotations

from typing import Any

from collectors.base import MetricSpec, Sample

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("process_cpu_seconds_total", "counter",
               "Total user and system CPU time spent in seconds.", (), "seconds"),
    MetricSpec("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", (),
               "bytes"),
    MetricSpec("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", (),
               "bytes"),
    MetricSpec("process_virtual_memory_max_bytes", "gauge",
               "Maximum amount of virtual memory available in bytes.", (), "bytes"),
    MetricSpec("process_open_fds", "gauge", "Number of open file descriptors."),
    MetricSpec("process_max_fds", "gauge", "Maximum number of open file descriptors."),
    MetricSpec("process_start_time_seconds", "gauge",
               "Start time of the process since unix epoch in seconds.", (), "seconds"),
)

_proc: Any = None


def samples() -> list[Sample]:
    """One reading of this process; blocking (a few /proc reads), so call it in a thread."""
    global _proc
    import psutil

    if _proc is None:
        _proc = psutil.Process()
    p = _proc
    with p.oneshot():
        cpu = p.cpu_times()
        mem = p.memory_info()
        fds = p.num_fds()
        started = p.create_time()
        soft, _hard = p.rlimit(psutil.RLIMIT_NOFILE)
        as_soft, _ = p.rlimit(psutil.RLIMIT_AS)
    return [
        Sample("process_cpu_seconds_total", cpu.user + cpu.system),
        Sample("process_resident_memory_bytes", float(mem.rss)),
        Sample("process_virtual_memory_bytes", float(mem.vms)),
        # client_golang reports "unlimited" as the largest uint64, 2**64 - 1.
        Sample("process_virtual_memory_max_bytes",
               float(2**64 - 1) if as_soft == psutil.RLIM_INFINITY else float(as_soft)),
        Sample("process_open_fds", float(fds)),
        Sample("process_max_fds", float(soft)),
        Sample("process_start_time_seconds", started),
    ]
