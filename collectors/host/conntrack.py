"""conntrack: netfilter connection tracking table size and per-CPU statistics (summed)."""

from __future__ import annotations

from typing import Any

from collectors.base import MetricSpec, Sample
from collectors.host.part import Absent, Env, Part

# /proc/net/stat/nf_conntrack column -> (family suffix, HELP), node_exporter 1.5's set.
_STATS = (
    ("found", "Number of searched entries which were successful."),
    ("invalid", "Number of packets seen which can not be tracked."),
    ("ignore", "Number of packets seen which are already connected to a conntrack entry."),
    ("insert", "Number of entries inserted into the list."),
    ("insert_failed", "Number of entries for which list insertion was attempted but failed."),
    ("drop", "Number of packets dropped due to conntrack failure."),
    ("early_drop", "Number of dropped conntrack entries to make room for new ones, if maximum "
                   "table size was reached."),
    ("search_restart", "Number of conntrack table lookups which had to be restarted due to "
                       "hashtable resizes."),
)

METRICS = (
    MetricSpec("node_nf_conntrack_entries", "gauge",
               "Number of currently allocated flow entries for connection tracking."),
    MetricSpec("node_nf_conntrack_entries_limit", "gauge",
               "Maximum size of connection tracking table."),
    *(MetricSpec(f"node_nf_conntrack_stat_{name}", "gauge", text) for name, text in _STATS),
)


def parse_stat(text: str) -> list[Sample]:
    """A header line naming the columns, then one line of hex numbers per CPU."""
    lines = [ln.split() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return []
    header = lines[0]
    totals = dict.fromkeys(header, 0)
    for row in lines[1:]:
        if len(row) != len(header):
            raise ValueError(f"nf_conntrack stat: {len(row)} columns, header has {len(header)}")
        for key, raw in zip(header, row, strict=True):
            totals[key] += int(raw, 16)
    return [Sample(f"node_nf_conntrack_stat_{name}", float(totals[name]))
            for name, _ in _STATS if name in totals]


def read(env: Env, details: dict[str, Any]) -> list[Sample]:
    # Without the nf_conntrack module loaded none of these exist: node_exporter says no data.
    try:
        count = env.read_proc("sys/net/netfilter/nf_conntrack_count")
        limit = env.read_proc("sys/net/netfilter/nf_conntrack_max")
    except Absent:
        raise Absent("nf_conntrack not loaded") from None
    out = [Sample("node_nf_conntrack_entries", float(count.strip())),
           Sample("node_nf_conntrack_entries_limit", float(limit.strip()))]
    try:
        out += parse_stat(env.read_proc("net/stat/nf_conntrack"))
    except Absent:
        pass
    return out


PART = Part("conntrack", METRICS, read)
