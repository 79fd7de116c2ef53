"""The last 24 hours of one check's results, one slot per minute, in fixed memory.

Why minutes in arrays rather than a list of results: a check every 5 s keeps 17,280 results a
day, a thousand checks would hold millions of Python objects. One slot per minute (count of
successes and failures, summed response time) costs 12 bytes, so a check's day is 17 KB
whatever its interval, and adding a result is a few array stores: no work that grows.
A slot carries the minute it belongs to, so a stale slot from yesterday is recognised and
reused without a sweep.
"""

from __future__ import annotations

from array import array

SLOTS = 1440  # minutes in 24 h


class Ring:
    __slots__ = (
        "_fails",
        "_minute",
        "_ms",
        "_oks",
        "_spark_minute",
        "_spark_ms",
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
        self._minute = array("i", [-1]) * SLOTS
        self._oks = array("H", [0]) * SLOTS
        self._fails = array("H", [0]) * SLOTS
        self._ms = array("f", [0.0]) * SLOTS  # summed response time of the successes
        self.last_at = 0.0
        self.last_ok: bool | None = None
        self.last_ms: float | None = None
        self.last_error = ""
        self.last_error_at = 0.0
        self.since = 0.0  # when the raw result last flipped between success and failure
        self._spark_minute = -1  # the minute of the sparkline's last element
        self._spark_ms: list[float | None] = [None] * 60
        self._spark_ok = ["."] * 60
        self._spark_txt = ["null"] * 60
        # the first 59 minutes of spark_json, joined: only the last minute changes with most
        # results, so the join is redone about once a minute, not with every result
        self._spark_prefix: tuple[str, str] | None = None

    def add(self, at: float, ok: bool, duration: float, reason: str) -> None:
        minute = int(at // 60)
        i = minute % SLOTS
        if self._minute[i] != minute:
            self._minute[i] = minute
            self._oks[i] = self._fails[i] = 0
            self._ms[i] = 0.0
        ms = duration * 1000.0
        if ok:
            self._oks[i] = min(self._oks[i] + 1, 65535)
            self._ms[i] += ms
        else:
            self._fails[i] = min(self._fails[i] + 1, 65535)
            self.last_error = reason
            self.last_error_at = at
        if self.last_ok is None or self.last_ok != ok:
            self.since = at
        self.last_ok, self.last_at = ok, at
        self.last_ms = ms if ok else None
        self._spark_slot(minute, i)

    def minutes(self, now: float, count: int) -> list[tuple[int, int, int, float | None]]:
        """(minute start, successes, failures, mean ms of successes) for the last `count`
        minutes that have results, oldest first."""
        last = int(now // 60)
        out = []
        for minute in range(last - min(count, SLOTS) + 1, last + 1):
            i = minute % SLOTS
            if self._minute[i] != minute:
                continue
            oks, fails = self._oks[i], self._fails[i]
            out.append((minute * 60, oks, fails, round(self._ms[i] / oks, 2) if oks else None))
        return out

    def _advance(self, minute: int) -> None:
        """Shift the hour's sparkline so its last element is `minute`."""
        gap = minute - self._spark_minute
        if gap <= 0:
            return
        self._spark_prefix = None
        if gap >= 60:
            self._spark_ms = [None] * 60
            self._spark_ok = ["."] * 60
            self._spark_txt = ["null"] * 60
        else:
            del self._spark_ms[:gap]
            del self._spark_ok[:gap]
            del self._spark_txt[:gap]
            self._spark_ms.extend([None] * gap)
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
        oks = self._oks[i]
        ms = round(self._ms[i] / oks, 1) if oks else None
        self._spark_ms[pos] = ms
        self._spark_txt[pos] = "null" if ms is None else repr(ms)
        self._spark_ok[pos] = "0" if self._fails[i] else "1"

    def spark(self, now: float) -> tuple[list[float | None], str]:
        """The last hour per minute: mean ms (None without a success) and a string with one
        character per minute: "1" all fine, "0" a failure, "." no result. Kept up to date as
        results arrive (one element per result), so reading it costs nothing per minute."""
        self._advance(int(now // 60))
        return list(self._spark_ms), "".join(self._spark_ok)

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
