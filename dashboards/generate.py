"""Generates the Grafana dashboards in dashboards/grafana/ from code.

Why code: the dashboards share the same variables, units and panel shapes, and a test must be
able to read every query back out and run it against a real Prometheus. Editing the JSON by hand
is still possible (Grafana export), but then regenerate and diff: the test fails on drift.

Run: python dashboards/generate.py   (writes dashboards/grafana/*.json)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "grafana"
DS = {"type": "prometheus", "uid": "${datasource}"}
SITE = 'site=~"$site"'


def _var_query(name: str, label: str, query: str, multi: bool = True) -> dict[str, Any]:
    return {
        "name": name, "label": label, "type": "query", "datasource": DS,
        "query": {"query": query, "refId": f"var-{name}"}, "definition": query,
        "refresh": 2, "includeAll": multi, "multi": multi, "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]} if multi else {},
        "sort": 1,
    }


def variables(*extra: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
         "current": {}, "hide": 0},
        _var_query("site", "Kantor / site", "label_values(pantau_build_info, site)"),
    ]
    if "check" in extra:
        out.append(_var_query("check", "Check",
                              f"label_values(pantau_probe_success{{{SITE}}}, check)"))
    if "path" in extra:
        out.append(_var_query("path", "Path",
                              f"label_values(pantau_path_hops{{{SITE}}}, check)"))
    if "device" in extra:
        out.append(_var_query("device", "Device",
                              f"label_values(pantau_snmp_up{{{SITE}}}, device)"))
    return out


class Board:
    """Lays panels out on Grafana's 24-column grid, row by row."""

    def __init__(self, uid: str, title: str, description: str, tags: list[str]) -> None:
        self.uid, self.title, self.description, self.tags = uid, title, description, tags
        self.panels: list[dict[str, Any]] = []
        self._x = 0
        self._y = 0
        self._row_h = 0
        self._id = 0

    def row(self, title: str, repeat: str = "") -> None:
        """A row; `repeat`: a variable the row (with its panels) is repeated for."""
        self._newline()
        self._id += 1
        row: dict[str, Any] = {"id": self._id, "type": "row", "title": title,
                               "collapsed": False,
                               "gridPos": {"x": 0, "y": self._y, "w": 24, "h": 1},
                               "panels": []}
        if repeat:
            row["repeat"] = repeat
        self.panels.append(row)
        self._y += 1

    def _newline(self) -> None:
        if self._x:
            self._y += self._row_h
            self._x = 0
            self._row_h = 0

    def add(self, kind: str, title: str, targets: list[tuple[str, str]], *, w: int = 12,
            h: int = 8, unit: str = "short", description: str = "",
            options: dict[str, Any] | None = None, thresholds: Sequence[tuple[float, str]] | None =
            None, mappings: list[dict[str, Any]] | None = None, decimals: int | None = None,
            instant: bool = False, min_: float | None = None, max_: float | None = None,
            fmt: str = "") -> None:
        if self._x + w > 24:
            self._newline()
        self._id += 1
        defaults: dict[str, Any] = {"unit": unit}
        if thresholds:
            defaults["thresholds"] = {"mode": "absolute", "steps": [
                {"color": c, "value": None if i == 0 else v}
                for i, (v, c) in enumerate(thresholds)]}
            if kind in ("stat", "table"):
                defaults["color"] = {"mode": "thresholds"}
        if mappings:
            defaults["mappings"] = mappings
        if decimals is not None:
            defaults["decimals"] = decimals
        if min_ is not None:
            defaults["min"] = min_
        if max_ is not None:
            defaults["max"] = max_
        panel: dict[str, Any] = {
            "id": self._id, "type": kind, "title": title, "description": description,
            "datasource": DS, "gridPos": {"x": self._x, "y": self._y, "w": w, "h": h},
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": options or {},
            "targets": [
                {"refId": chr(65 + i), "datasource": DS, "expr": expr, "legendFormat": legend,
                 "instant": instant or kind in ("stat", "table", "bargauge"),
                 "range": not (instant or kind in ("stat", "table", "bargauge"))}
                for i, (expr, legend) in enumerate(targets)
            ],
        }
        if fmt:  # "heatmap": each series is one row of the heatmap, ordered by its legend
            for target in panel["targets"]:
                target["format"] = fmt
        if kind == "table":
            panel["transformations"] = [{"id": "merge", "options": {}}]
        self.panels.append(panel)
        self._x += w
        self._row_h = max(self._row_h, h)

    def json(self, *var_names: str) -> dict[str, Any]:
        return {
            "uid": self.uid, "title": self.title, "description": self.description,
            "tags": ["pantau", *self.tags], "timezone": "browser", "schemaVersion": 39,
            "version": 1, "editable": True, "graphTooltip": 1, "refresh": "1m",
            "time": {"from": "now-24h", "to": "now"},
            "templating": {"list": variables(*var_names)},
            "annotations": {"list": []}, "links": [
                {"title": "pantau", "type": "dashboards", "tags": ["pantau"], "asDropdown": True}
            ],
            "panels": self.panels,
        }


UPDOWN = [{"type": "value", "options": {"0": {"text": "DOWN", "color": "red"},
                                         "1": {"text": "UP", "color": "green"}}}]
RED_GREEN = [(0, "red"), (1, "green")]


def overview() -> dict[str, Any]:
    b = Board("pantau-overview", "pantau / Office overview",
              "All offices: agent up, checks down, uplinks, open outages, availability.",
              ["overview"])
    b.row("Offices")
    b.add("stat", "Agents up", [(f'count(pantau_build_info{{{SITE}}})', "agents")], w=6, h=4)
    b.add("stat", "Checks down now",
          [(f'count(pantau_check_up{{{SITE}}} == 0) or vector(0)', "down")], w=6, h=4,
          thresholds=[(0, "green"), (1, "red")])
    b.add("stat", "Probes failing right now",
          [(f'count(pantau_probe_success{{{SITE}}} == 0) or vector(0)', "failing")], w=6, h=4,
          thresholds=[(0, "green"), (1, "orange")])
    b.add("stat", "Availability this range",
          [(f'avg(avg_over_time(pantau_probe_success{{{SITE}}}[$__range]))', "all checks")],
          w=6, h=4, unit="percentunit", decimals=2,
          thresholds=[(0, "red"), (0.99, "orange"), (0.995, "green")])
    b.row("Checks by office")
    b.add("table", "Check state",
          [(f'pantau_check_up{{{SITE}}}', "")], w=12, h=10, mappings=UPDOWN,
          description="Damped state (up/down) per check; a suppressed check shows its root "
          "cause in the next table.")
    b.add("table", "Root causes (0: nothing down)",
          [(f'sum by (site, check, cause) (pantau_check_root_cause{{{SITE}}}) or on() vector(0)',
            "")], w=12, h=10)
    b.row("Availability")
    b.add("bargauge", "Availability by office (this range)",
          [(f'avg by (site) (avg_over_time(pantau_probe_success{{{SITE}}}[$__range]))',
            "{{site}}")], w=24, h=8, unit="percentunit", decimals=2, min_=0.9, max_=1,
          thresholds=[(0, "red"), (0.99, "orange"), (0.995, "green")])
    return b.json()


def site_detail() -> dict[str, Any]:
    b = Board("pantau-site", "pantau / Site detail",
              "One office: the connectivity path with loss and latency, services, server, gear.",
              ["site"])
    chk = f'{SITE},check=~"$check"'
    b.row("Connectivity path")
    b.add("timeseries", "Probe success", [(f'pantau_probe_success{{{chk}}}', "{{check}}")],
          w=12, min_=0, max_=1)
    b.add("timeseries", "Packet loss", [(f'pantau_icmp_packet_loss_ratio{{{chk}}}',
                                          "{{check}}")], w=12, unit="percentunit", min_=0)
    b.add("timeseries", "Round-trip time (avg)",
          [(f'pantau_icmp_rtt_seconds{{{chk},stat="avg"}}', "{{check}}")], w=12, unit="s")
    b.add("timeseries", "Jitter", [(f'pantau_icmp_jitter_seconds{{{chk}}}', "{{check}}")],
          w=12, unit="s")
    b.row("Services")
    b.add("timeseries", "HTTP time by phase",
          [(f'pantau_http_phase_seconds{{{chk}}}', "{{check}} {{phase}}")], w=12, unit="s")
    b.add("timeseries", "DNS lookup time",
          [(f'pantau_dns_lookup_seconds{{{chk}}}', "{{check}}")], w=12, unit="s")
    b.add("table", "HTTP status", [(f'pantau_http_status_code{{{chk}}}', "")], w=12, h=6)
    b.add("stat", "Certificate expires in",
          [(f'min by (check) (pantau_tls_cert_expiry_timestamp_seconds{{{chk}}}) - time()',
            "{{check}}")], w=12, h=6, unit="s",
          thresholds=[(0, "red"), (14 * 86400, "orange"), (30 * 86400, "green")])
    b.row("Server and gear")
    b.add("timeseries", "Server load", [(f'node_load1{{{SITE}}}', "load1"),
                                        (f'node_load5{{{SITE}}}', "load5")], w=8)
    b.add("timeseries", "Server memory available",
          [(f'node_memory_MemAvailable_bytes{{{SITE}}} / node_memory_MemTotal_bytes{{{SITE}}}',
            "available")], w=8, unit="percentunit", min_=0, max_=1)
    b.add("stat", "Network devices reachable", [(f'pantau_snmp_up{{{SITE}}}', "{{device}}")],
          w=8, mappings=UPDOWN, thresholds=RED_GREEN)
    return b.json("check")


def network_gear() -> dict[str, Any]:
    b = Board("pantau-gear", "pantau / Network gear",
              "Switches and routers over SNMP: status, traffic, errors, top talkers.", ["snmp"])
    dev = f'{SITE},device=~"$device"'
    b.row("Devices")
    b.add("stat", "Reachable", [(f'pantau_snmp_up{{{dev}}}', "{{device}}")], w=8, h=5,
          mappings=UPDOWN, thresholds=RED_GREEN)
    b.add("stat", "Uptime", [(f'pantau_snmp_uptime_seconds{{{dev}}}', "{{device}}")], w=8, h=5,
          unit="s")
    b.add("stat", "Poll duration", [(f'pantau_snmp_scrape_duration_seconds{{{dev}}}',
                                     "{{device}}")], w=8, h=5, unit="s")
    b.row("Interfaces")
    b.add("timeseries", "Traffic in (bits/s)",
          [(f'rate(pantau_if_in_octets_total{{{dev}}}[$__rate_interval]) * 8',
            "{{device}} {{ifname}}")], w=12, unit="bps")
    b.add("timeseries", "Traffic out (bits/s)",
          [(f'rate(pantau_if_out_octets_total{{{dev}}}[$__rate_interval]) * 8',
            "{{device}} {{ifname}}")], w=12, unit="bps")
    b.add("timeseries", "Errors and discards (per second)",
          [(f'rate(pantau_if_in_errors_total{{{dev}}}[$__rate_interval])',
            "{{device}} {{ifname}} in errors"),
           (f'rate(pantau_if_out_errors_total{{{dev}}}[$__rate_interval])',
            "{{device}} {{ifname}} out errors"),
           (f'rate(pantau_if_in_discards_total{{{dev}}}[$__rate_interval])',
            "{{device}} {{ifname}} in discards")], w=12)
    b.add("table", "Interface status (oper)",
          [(f'pantau_if_oper_up{{{dev}}}', "")], w=12, mappings=UPDOWN)
    b.add("bargauge", "Top talkers (in + out, bits/s)",
          [(f'topk(10, (rate(pantau_if_in_octets_total{{{dev}}}[$__rate_interval]) + '
            f'rate(pantau_if_out_octets_total{{{dev}}}[$__rate_interval])) * 8)',
            "{{device}} {{ifname}}")], w=12, unit="bps")
    b.add("timeseries", "Utilisation of link speed",
          [(f'rate(pantau_if_in_octets_total{{{dev}}}[$__rate_interval]) * 8 / '
            f'(pantau_if_speed_bits{{{dev}}} > 0)', "{{device}} {{ifname}}")], w=12,
          unit="percentunit", min_=0)
    return b.json("device")


def servers() -> dict[str, Any]:
    b = Board("pantau-servers", "pantau / Servers",
              "The office servers, under node_exporter's metric names.", ["host"])
    b.row("CPU and load")
    b.add("timeseries", "CPU busy",
          [(f'1 - avg by (site) (rate(node_cpu_seconds_total{{{SITE},mode="idle"}}'
            '[$__rate_interval]))', "{{site}}")], w=12, unit="percentunit", min_=0, max_=1)
    b.add("timeseries", "Load", [(f'node_load1{{{SITE}}}', "{{site}} load1"),
                                 (f'node_load15{{{SITE}}}', "{{site}} load15")], w=12)
    b.row("Memory and disks")
    b.add("timeseries", "Memory available",
          [(f'node_memory_MemAvailable_bytes{{{SITE}}}', "{{site}}")], w=12, unit="bytes")
    b.add("bargauge", "Filesystem used",
          [(f'1 - node_filesystem_avail_bytes{{{SITE}}} / node_filesystem_size_bytes{{{SITE}}}',
            "{{site}} {{mountpoint}}")], w=12, unit="percentunit", min_=0, max_=1,
          thresholds=[(0, "green"), (0.8, "orange"), (0.9, "red")])
    b.add("timeseries", "Disk I/O",
          [(f'rate(node_disk_read_bytes_total{{{SITE}}}[$__rate_interval])', "{{device}} read"),
           (f'rate(node_disk_written_bytes_total{{{SITE}}}[$__rate_interval])',
            "{{device}} write")], w=12, unit="Bps")
    b.add("timeseries", "Network",
          [(f'rate(node_network_receive_bytes_total{{{SITE}}}[$__rate_interval]) * 8',
            "{{device}} rx"),
           (f'rate(node_network_transmit_bytes_total{{{SITE}}}[$__rate_interval]) * 8',
            "{{device}} tx")], w=12, unit="bps")
    b.add("stat", "Uptime", [(f'time() - node_boot_time_seconds{{{SITE}}}', "{{site}}")],
          w=12, h=4, unit="s")
    b.add("stat", "Processes", [(f'pantau_host_processes{{{SITE}}}', "{{site}}")], w=12, h=4)
    return b.json()


def availability() -> dict[str, Any]:
    b = Board("pantau-availability", "pantau / Availability",
              "Achieved availability against the SLO and the error budget left. The monthly "
              "signed report comes from `pantau report`.", ["sla"])
    chk = f'{SITE},check=~"$check"'
    b.row("SLO")
    b.add("bargauge", "Achieved availability (this range)",
          [(f'avg by (site, check) (avg_over_time(pantau_check_up{{{chk}}}[$__range]))',
            "{{site}} {{check}}")], w=12, h=10, unit="percentunit", decimals=3, min_=0.95,
          max_=1, thresholds=[(0, "red"), (0.99, "orange"), (0.995, "green")])
    b.add("bargauge", "Error budget left at 99.5 % (this range)",
          [(f'1 - (1 - avg by (site, check) (avg_over_time(pantau_check_up{{{chk}}}'
            '[$__range]))) / (1 - 0.995)', "{{site}} {{check}}")], w=12, h=10,
          unit="percentunit", min_=0, max_=1,
          thresholds=[(0, "red"), (0.25, "orange"), (0.5, "green")])
    b.add("timeseries", "Check state over time",
          [(f'pantau_check_up{{{chk}}}', "{{site}} {{check}}")], w=24, min_=0, max_=1)
    b.add("timeseries", "State changes",
          [(f'increase(pantau_check_state_changes_total{{{chk}}}[$__rate_interval])',
            "{{site}} {{check}}")], w=24)
    return b.json("check")


HOP_HEATMAP: dict[str, Any] = {
    "calculate": False, "cellGap": 1, "yAxis": {"axisLabel": "hop"},
    "rowsFrame": {"layout": "auto"}, "legend": {"show": True},
    "tooltip": {"mode": "single", "yHistogram": False},
}


def paths() -> dict[str, Any]:
    b = Board("pantau-paths", "pantau / Paths",
              "Every path check: loss and round-trip time of each hop over time (hops x time "
              "heatmaps, Smokeping-style spread), the hop count and route changes. Read loss "
              "from the first hop whose loss stays to the end of the path.", ["paths"])
    p = f'{SITE},check=~"$path"'
    b.row("$path", repeat="path")
    b.add("heatmap", "Loss per hop", [(f'max by (hop) (pantau_path_hop_loss_ratio{{{p}}})',
                                       "{{hop}}")], w=12, h=9, unit="percentunit", min_=0,
          max_=1, fmt="heatmap",
          options={**HOP_HEATMAP, "color": {"mode": "scheme", "scheme": "Reds",
                                            "exponent": 0.5, "min": 0, "max": 1}},
          description="Rows: hops from the office (1 = the office router), columns: time; "
                      "the darker, the more probes got no answer.")
    b.add("heatmap", "Round-trip time per hop (avg)",
          [(f'max by (hop) (pantau_path_hop_rtt_seconds{{{p},stat="avg"}})', "{{hop}}")],
          w=12, h=9, unit="s", fmt="heatmap",
          options={**HOP_HEATMAP, "color": {"mode": "scheme", "scheme": "Oranges",
                                            "exponent": 0.5}})
    b.add("timeseries", "Round-trip spread per hop (min, avg, max)",
          [(f'max by (hop, stat) (pantau_path_hop_rtt_seconds{{{p},stat=~"min|avg|max"}})',
            "hop {{hop}} {{stat}}")], w=12, unit="s", min_=0,
          description="Smokeping-style: the band between min and max of each hop's probes.")
    b.add("timeseries", "Jitter per hop",
          [(f'max by (hop) (pantau_path_hop_rtt_seconds{{{p},stat="jitter"}})', "hop {{hop}}")],
          w=6, unit="s", min_=0)
    b.add("stat", "Hops and route changes",
          [(f'max(pantau_path_hops{{{p}}})', "hops"),
           (f'sum(increase(pantau_path_changes_total{{{p}}}[$__range]))', "route changes"),
           (f'sum(pantau_path_hop_silent{{{p}}})', "silent hops")], w=6, decimals=0)
    return b.json("path")


BOARDS = {
    "overview": overview, "site-detail": site_detail, "network-gear": network_gear,
    "servers": servers, "availability": availability, "paths": paths,
}


def render_all() -> dict[str, str]:
    return {f"{name}.json": json.dumps(fn(), indent=2, sort_keys=False) + "\n"
            for name, fn in BOARDS.items()}


def queries(board: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, expr) for every panel target, and the variable queries."""
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in render_all().items():
        (OUT / name).write_text(text)
        print(f"wrote {OUT / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
