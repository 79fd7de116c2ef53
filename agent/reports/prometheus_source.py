"""Report inputs from a central Prometheus: the same outages, computed from `pantau_check_up`
range queries, so one report can cover every office of a province.

A check counts as down from the first sample where pantau_check_up == 0 until the first sample
where it is 1 again; that is the same transition the agent's own history records, seen at the
resolution of the scrape interval (the two agree within one interval).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from agent.reports.availability import Outage, SiteData

MAX_POINTS = 10_000  # Prometheus refuses more than 11,000 points per series


class PrometheusError(RuntimeError):
    """The server could not be asked or did not answer as expected."""


def _query_range(url: str, query: str, start: datetime, end: datetime, step: float,
                 timeout: float) -> list[dict[str, Any]]:
    import httpx

    try:
        r = httpx.get(
            url.rstrip("/") + "/api/v1/query_range",
            params={"query": query, "start": start.timestamp(), "end": end.timestamp(),
                    "step": f"{step:g}s"},
            timeout=timeout,
        )
    except httpx.HTTPError as e:
        raise PrometheusError(f"cannot reach Prometheus at {url}: {e}") from None
    try:
        body = r.json()
    except ValueError:
        raise PrometheusError(f"Prometheus answered {r.status_code} with a non-JSON body") from None
    if not isinstance(body, dict) or body.get("status") != "success":
        err = body.get("error") if isinstance(body, dict) else None
        raise PrometheusError(f"Prometheus query failed: {err or r.status_code}")
    data = body.get("data") or {}
    result = data.get("result")
    if data.get("resultType") != "matrix" or not isinstance(result, list):
        raise PrometheusError("Prometheus answered with an unexpected result type")
    return result


def sites_from_prometheus(
    url: str,
    period: tuple[datetime, datetime],
    *,
    site: str | None = None,
    step: float = 15.0,
    now: datetime | None = None,
    timeout: float = 60.0,
) -> list[SiteData]:
    """Outages per site and check from pantau_check_up, queried in chunks of MAX_POINTS."""
    start, end = period
    now = now or datetime.now(UTC)
    end = min(end, now)
    selector = f'{{site="{site}"}}' if site else ""
    query = f"pantau_check_up{selector}"
    series: dict[tuple[str, str], list[tuple[float, float]]] = {}
    chunk = timedelta(seconds=step * MAX_POINTS)
    t0 = start
    while t0 < end:
        t1 = min(end, t0 + chunk)
        for s in _query_range(url, query, t0, t1, step, timeout):
            metric = s.get("metric", {})
            key = (str(metric.get("site", "")), str(metric.get("check", "")))
            try:
                points = [(float(ts), float(v)) for ts, v in s.get("values", [])]
            except (TypeError, ValueError):
                raise PrometheusError("Prometheus answered with malformed sample values") from None
            series.setdefault(key, []).extend(points)
        t0 = t1 + timedelta(seconds=step)
    by_site: dict[str, SiteData] = {}
    tz = start.tzinfo
    for (site_name, check), points in sorted(series.items()):
        points.sort()
        sd = by_site.setdefault(site_name, SiteData(site_name, []))
        sd.checks.append(check)
        if points:
            sd.monitored_from[check] = datetime.fromtimestamp(points[0][0], tz)
        down_since: float | None = None
        for ts, v in points:
            if v == 0 and down_since is None:
                down_since = ts
            elif v == 1 and down_since is not None:
                sd.outages.append(Outage(check, datetime.fromtimestamp(down_since, tz),
                                         datetime.fromtimestamp(ts, tz)))
                down_since = None
        if down_since is not None:
            sd.outages.append(Outage(check, datetime.fromtimestamp(down_since, tz), None))
    return list(by_site.values())
