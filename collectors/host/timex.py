"""timex: the kernel clock discipline (NTP state) from adjtimex(2), read-only (modes = 0)."""

from __future__ import annotations

import ctypes
import os
from typing import Any

from collectors.base import MetricSpec, Sample
from collectors.host.part import Absent, Env, Part

_TIME_ERROR = 5  # adjtimex's return value when the clock is not synchronised
_STA_NANO = 0x2000  # offset and jitter are in ns, not us
_PPM16FRAC = 1_000_000.0 * 65536.0


class Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class Timex(ctypes.Structure):
    """struct timex of <sys/timex.h>; ctypes pads the int fields like the C compiler."""

    _fields_ = [
        ("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
        ("constant", ctypes.c_long), ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long), ("time", Timeval), ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long), ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    ]


def _g(name: str, help_: str, unit: str = "") -> MetricSpec:
    return MetricSpec(f"node_timex_{name}", "gauge", help_, (), unit)


def _c(name: str, help_: str) -> MetricSpec:
    return MetricSpec(f"node_timex_{name}", "counter", help_)


METRICS = (
    _g("sync_status", "Is clock synchronized to a reliable server (1 = yes, 0 = no)."),
    _g("offset_seconds", "Time offset in between local system and reference clock.", "seconds"),
    _g("frequency_adjustment_ratio", "Local clock frequency adjustment."),
    _g("maxerror_seconds", "Maximum error in seconds.", "seconds"),
    _g("estimated_error_seconds", "Estimated error in seconds.", "seconds"),
    _g("status", "Value of the status array bits."),
    _g("loop_time_constant", "Phase-locked loop time constant."),
    _g("tick_seconds", "Seconds between clock ticks.", "seconds"),
    _g("pps_frequency_hertz", "Pulse per second frequency."),
    _g("pps_jitter_seconds", "Pulse per second jitter.", "seconds"),
    _g("pps_shift_seconds", "Pulse per second interval duration.", "seconds"),
    _g("pps_stability_hertz", "Pulse per second stability, average of recent frequency changes."),
    _c("pps_jitter_total", "Pulse per second count of jitter limit exceeded events."),
    _c("pps_calibration_total", "Pulse per second count of calibration intervals."),
    _c("pps_error_total", "Pulse per second count of calibration errors."),
    _c("pps_stability_exceeded_total",
       "Pulse per second count of stability limit exceeded events."),
    _g("tai_offset_seconds", "International Atomic Time (TAI) offset.", "seconds"),
)


def samples(state: int, tx: Timex) -> list[Sample]:
    """node_exporter 1.5's arithmetic, field for field."""
    div = 1e9 if tx.status & _STA_NANO else 1e6
    values = {
        "sync_status": 0.0 if state == _TIME_ERROR else 1.0,
        "offset_seconds": tx.offset / div,
        "frequency_adjustment_ratio": 1 + tx.freq / _PPM16FRAC,
        "maxerror_seconds": tx.maxerror / 1e6,
        "estimated_error_seconds": tx.esterror / 1e6,
        "status": float(tx.status),
        "loop_time_constant": float(tx.constant),
        "tick_seconds": tx.tick / 1e6,
        "pps_frequency_hertz": tx.ppsfreq / _PPM16FRAC,
        "pps_jitter_seconds": tx.jitter / div,
        "pps_shift_seconds": float(tx.shift),
        "pps_stability_hertz": tx.stabil / _PPM16FRAC,
        "pps_jitter_total": float(tx.jitcnt),
        "pps_calibration_total": float(tx.calcnt),
        "pps_error_total": float(tx.errcnt),
        "pps_stability_exceeded_total": float(tx.stbcnt),
        "tai_offset_seconds": float(tx.tai),
    }
    return [Sample(f"node_timex_{k}", v) for k, v in values.items()]


_libc: Any = None


def adjtimex() -> tuple[int, Timex]:
    global _libc
    if _libc is None:
        # The process's own symbols (libc is linked into every CPython): no find_library,
        # which runs `ldconfig -p` and loads shutil and tempfile for a name we already have.
        _libc = ctypes.CDLL(None, use_errno=True)
    tx = Timex()  # modes 0: read only, needs no privilege
    state = _libc.adjtimex(ctypes.byref(tx))
    if state < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"adjtimex: {os.strerror(err)}")
    return state, tx


def read(env: Env, details: dict[str, Any]) -> list[Sample]:
    try:
        state, tx = adjtimex()
    except (OSError, AttributeError) as e:  # no libc adjtimex (musl without it, non-Linux)
        raise Absent(str(e)) from None
    return samples(state, tx)


PART = Part("timex", METRICS, read)
