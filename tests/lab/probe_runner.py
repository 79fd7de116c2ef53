"""Run pantau check collectors once (or in a loop) and print each result as a JSON line.

Meant to run inside a lab namespace, so the checks see the network from there:
    ip netns exec <office-ns> .venv/bin/python tests/lab/probe_runner.py '<json>'
where <json> is {"checks": [<check config>, ...], "interval": 1.0, "runs": 1,
"blackbox": [{"name": ..., "url": "http://127.0.0.1:9115/probe?module=...&target=..."}]}.
Blackbox probes (optional) are fetched concurrently with the checks, so both see the network
at the same moment; their lines are {"blackbox": name, "metrics": {name: value}}.
With runs > 1 the checks run every `interval` seconds (each bounded by its own timeout), like
the scheduler does, and every result line carries the wall-clock time it finished.
"all_details": true keeps list and dict details too (a path check's hop table).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from collectors import REGISTRY
from collectors.base import Context, Deadline


async def _one(collector: Any, cfg: Any, all_details: bool = False) -> dict[str, Any]:
    started = time.time()
    obs = await collector.collect(Context(Deadline(cfg.timeout), "lab", cfg.name))
    kinds = (str, int, float, list, dict) if all_details else (str, int, float)
    return {
        "name": cfg.name, "started": started, "t": time.time(), "success": obs.success,
        "reason": obs.reason, "duration": obs.duration,
        "samples": [[s.name, dict(s.labels), s.value] for s in obs.samples],
        "details": {k: v for k, v in obs.details.items() if isinstance(v, kinds)},
    }


async def _blackbox(name: str, url: str) -> dict[str, Any]:
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    async with httpx.AsyncClient(trust_env=False, timeout=15) as client:
        resp = await client.get(url)
    metrics = {s.name: s.value for fam in text_string_to_metric_families(resp.text)
               for s in fam.samples if not s.labels}
    return {"blackbox": name, "status": resp.status_code, "metrics": metrics}


async def main(spec: dict[str, Any]) -> None:
    pairs = []
    for raw in spec["checks"]:
        cls = REGISTRY[raw["type"]]
        cfg = cls.Config.model_validate(raw)
        pairs.append((cls(cfg), cfg))  # type: ignore[call-arg]
    runs = int(spec.get("runs", 1))
    interval = float(spec.get("interval", 1.0))
    next_at = time.monotonic()
    for _ in range(max(1, min(runs, 10000))):
        results = await asyncio.gather(
            *(_one(c, cfg, bool(spec.get("all_details"))) for c, cfg in pairs),
            *(_blackbox(b["name"], b["url"]) for b in spec.get("blackbox", [])))
        for r in results:
            sys.stdout.write(json.dumps(r) + "\n")
        sys.stdout.flush()
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    for c, _ in pairs:
        await c.aclose()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
