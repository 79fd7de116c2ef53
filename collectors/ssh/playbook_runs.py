"""pantau_playbook_runs_total, counted from the playbook audit log.

Playbooks run from the CLI, a separate process, so the agent counts them by reading the
append-only audit log the CLI writes. Alert-triggered runs (trigger "alert:<check>") are in
the same log but are counted by the alerting engine (agent/alerting/engine.py), which also counts
the runs it refused; they are skipped here so no run is counted twice.
The file is read incrementally; a log rotated or truncated under us is re-read from the start
(a counter reset Prometheus handles).
"""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel

from collectors.base import Context, MetricSpec, Observation, Sample
from collectors.config import StrictModel


class PlaybookRunsConfig(StrictModel):
    audit_log: Path


class PlaybookRunsCollector:
    type: ClassVar[str] = "playbook_runs"
    Config: ClassVar[builtins.type[BaseModel]] = PlaybookRunsConfig
    per_check: ClassVar[bool] = False
    METRICS: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec("pantau_playbook_runs_total", "counter",
                   "Playbook runs by playbook name and result (ok, failed, rejected, "
                   "dry_run), counted from the audit log; alert-triggered runs are also in "
                   "pantau_alert_playbook_runs_total.", ("playbook", "result")),
    )

    def __init__(self, config: PlaybookRunsConfig | Path) -> None:
        self.path = config if isinstance(config, Path) else config.audit_log
        self._offset = 0
        self._inode: int | None = None
        self._counts: dict[tuple[str, str], int] = {}

    def _read(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return
        if st.st_ino != self._inode or st.st_size < self._offset:
            self._inode, self._offset, self._counts = st.st_ino, 0, {}
        with self.path.open("rb") as f:
            f.seek(self._offset)
            for raw in f:
                if not raw.endswith(b"\n"):
                    break  # a line still being written: read it next time
                self._offset += len(raw)
                try:
                    rec = json.loads(raw)
                    key = (str(rec["playbook"]), str(rec["result"]))
                    from_alert = str(rec.get("trigger", "")).startswith("alert:")
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue  # a damaged line must not stop the count
                if from_alert:
                    continue  # the alerting engine counts those under the same name
                self._counts[key] = self._counts.get(key, 0) + 1

    async def collect(self, ctx: Context) -> Observation:
        try:
            await ctx.run_blocking(self._read)
        except OSError as e:
            return Observation(False, reason=f"cannot read audit log {self.path}: {e.strerror}")
        samples = [Sample.of("pantau_playbook_runs_total", n, playbook=p, result=r)
                   for (p, r), n in sorted(self._counts.items())]
        return Observation(True, samples)

    async def aclose(self) -> None:
        return None
