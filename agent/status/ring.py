"""The last 24 hours of one check's results, one slot per minute, in fixed memory.

Why minutes in arrays rather than a list of results: a check every 5 s keeps 17,280 results a
day, a thousand checks would hold millions of Python objects. One slot per minute (count of
successes and failures, summed response time) costs at most 8 bytes, so a check's day is at
most 11.5 KB whatever its interval, and adding a result is a few array stores: no work that
grows.
The ring knows the newest minute it holds; moving on to a later minute zeroes the slots passed
(what yesterday left there), so a slot needs no minute of its own, and the arrays are made
only when the first success (or failure) arrives: 6 bytes a minute for a check that never
fails (8.6 KB a day), 8 once it has failed, nothing for a check without results.
"""

from __future__ import annotations

from array import array
from typing import Any

SLOTS = 1440  # minutes in 24 h

# The sparkline's numbers as text, shared between checks: they are rounded to 0.1 ms, so a
# few thousand distinct values cover most; one str per minute per check was 3 KB a check.
_TEXT: dict[float, str] = {}
_TEXT_MAX = 8192


def _zero(arr: array[Any], start: int, stop: int) -> None:
    """Zero slots start .. stop - 1, wrapping round the end."""
    if stop > start:
        arr[start:stop] = array(arr.typecode, [0]) * (stop - start)
    else:
        arr[start:] = array(arr.typecode, [0]) * (SLOTS - start)
        arr[:stop] = array(arr.typecode, [0]) * stop


class Ring:
    __slots__ = (
        "_fails",
        "_last",
        "_ms",
        "_oks",
        "_spark_minute",
        "_spark_ok",
        "_spark_prefix",
        "_spark_txt",
        "last_at",
        "last_error",
        "last_error_at",
        "last_ms",
        "last_ok",
        "since",
    )

    def __init__(self) -> None:
        # Slot i holds minute m (m % SLOTS == i) for the day up to self._last, the newest
        # minute with a result: every slot of that window not written since is zero, so no
        # per-slot minute is kept (it was a third of the ring). The arrays are made on first
        # use: a check that never failed has no failure counts, one never run has nothing.
        self._last = -1
        self._oks: array[int] | None = None
        self._fails: array[int] | None = None
        self._ms: array[float] | None = None  # summed response time of the successes
        self.last_at = 0.0
        self.last_ok: bool | None = None
        self.last_ms: float | None = None
        self.last_error = ""
        self.last_error_at = 0.0
        self.since = 0.0  # when the raw result last flipped between success and failure
        self._spark_minute = -1  # the minute of the sparkline's last element
        self._spark_ok = ["."] * 60
        self._spark_txt = ["null"] * 60
        # the first 59 minutes of spark_json, joined: only the last minute changes with most
        # results, so the join is redone about once a minute, not with every result
        self._spark_prefix: tuple[str, str] | None = None

    def _move_to(self, minute: int) -> None:
        """Make `minute` the newest: zero the slots of the minutes between (they now hold
        minutes of the new window that have no result yet)."""
        gap = minute - self._last
        if gap >= SLOTS or gap <= -SLOTS:  # a silent day, or the clock set back a day
            self._oks = self._fails = self._ms = None
        else:
            start, stop = (self._last + 1) % SLOTS, (minute + 1) % SLOTS
            for arr in (self._oks, self._fails, self._ms):
                if arr is not None:
                    _zero(arr, start, stop)
        self._last = minute

    def add(self, at: float, ok: bool, duration: float, reason: str) -> None:
        minute = int(at // 60)
        if minute > self._last or minute <= self._last - SLOTS:
            self._move_to(minute)
        i = minute % SLOTS
        ms = duration * 1000.0
        if ok:
            oks, sums = self._oks, self._ms
            if oks is None or sums is None:
                oks = self._oks = array("H", [0]) * SLOTS
                sums = self._ms = array("f", [0.0]) * SLOTS
            oks[i] = min(oks[i] + 1, 65535)
            sums[i] += ms
        else:
            fails = self._fails
            if fails is None:
                fails = self._fails = array("H", [0]) * SLOTS
            fails[i] = min(fails[i] + 1, 65535)
            self.last_error = reason
            self.last_error_at = at
        if self.last_ok is None or self.last_ok != ok:
            self.since = at
        self.last_ok, self.last_at = ok, at
        self.last_ms = ms if ok else None
        self._spark_slot(minute, i)

    def _slot(self, i: int) -> tuple[int, int, float]:
        oks, fails, sums = self._oks, self._fails, self._ms
        return (oks[i] if oks is not None else 0, fails[i] if fails is not None else 0,
                sums[i] if sums is not None else 0.0)

    def minutes(self, now: float, count: int) -> list[tuple[int, int, int, float | None]]:
        """(minute start, successes, failures, mean ms of successes) for the last `count`
        minutes that have results, oldest first."""
        last = int(now // 60)
        out = []
        first = max(last - min(count, SLOTS) + 1, self._last - SLOTS + 1)
        for minute in range(first, min(last, self._last) + 1):
            oks, fails, ms = self._slot(minute % SLOTS)
            if oks or fails:
                out.append((minute * 60, oks, fails, round(ms / oks, 2) if oks else None))
        return out

    def _advance(self, minute: int) -> None:
        """Shift the hour's sparkline so its last element is `minute`."""
        gap = minute - self._spark_minute
        if gap <= 0:
            return
        self._spark_prefix = None
        if gap >= 60:
            self._spark_ok = ["."] * 60
            self._spark_txt = ["null"] * 60
        else:
            del self._spark_ok[:gap]
            del self._spark_txt[:gap]
            self._spark_ok.extend(["."] * gap)
            self._spark_txt.extend(["null"] * gap)
        self._spark_minute = minute

    def _spark_slot(self, minute: int, i: int) -> None:
        self._advance(minute)
        pos = 59 - (self._spark_minute - minute)
        if pos < 0:
            return  # older than the hour shown
        if pos < 59:  # a late result for an earlier minute
            self._spark_prefix = None
        oks, fails, total = self._slot(i)
        ms = round(total / oks, 1) if oks else None
        if ms is None:
            self._spark_txt[pos] = "null"
        else:
            txt = _TEXT.get(ms)
            if txt is None:
                txt = repr(ms)
                if len(_TEXT) < _TEXT_MAX:
                    _TEXT[ms] = txt
            self._spark_txt[pos] = txt
        self._spark_ok[pos] = "0" if fails else "1"

    def spark(self, now: float) -> tuple[list[float | None], str]:
        """The last hour per minute: mean ms (None without a success) and a string with one
        character per minute: "1" all fine, "0" a failure, "." no result. Kept up to date as
        results arrive (one element per result), so reading it costs nothing per minute."""
        self._advance(int(now // 60))
        # the numbers from their text (float(repr(x)) == x): a list of floats per check
        # beside the text cost 1.4 KB a check
        return ([None if t == "null" else float(t) for t in self._spark_txt],
                "".join(self._spark_ok))

    def spark_json(self) -> str:
        """The hour up to the minute of the latest result, as the API's JSON members
        spark_ms, spark_ok and spark_end (that minute's start; the page shifts the line to
        the present). It changes only with a result, not with the clock: redoing 1,000 of
        them at every new minute was the slowest step of an /api/v1/status answer. Each
        minute's number is kept as text when it is set, for the same reason."""
        prefix = self._spark_prefix
        if prefix is None:
            prefix = self._spark_prefix = (",".join(self._spark_txt[:59]) + ",",
                                           "".join(self._spark_ok[:59]))
        return ('"spark_ms":[' + prefix[0] + self._spark_txt[59] + '],"spark_ok":"'
                + prefix[1] + self._spark_ok[59]
                + f'","spark_end":{max(self._spark_minute, 0) * 60}')
