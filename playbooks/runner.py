"""Runs a playbook on hosts over SSH: validate everything first, then act, and record it all.

Order matters for safety: parameters, targets and every rendered command are fixed before the
first connection, so a rejected value means nothing ran anywhere. Each host gets one session
whose wall clock is the sum of its step timeouts; every run (also a dry run or a rejected one)
is written to the audit sink with who, what, parameters, exit codes and output.

There is deliberately no HTTP entry point: playbooks start from the CLI (a person on the box)
or from an alert for a playbook the config allows, rate-limited per playbook and host.
"""

from __future__ import annotations

import getpass
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from collectors.ssh import Auth, SshError, SshSection, SshSession
from collectors.ssh.session import parse_target
from playbooks.audit import AuditSink, clip
from playbooks.schema import Playbook, PlaybookError, Step, find_playbook, render

# (event, target name, step name or "", text): host_start, step_start, output:stdout,
# output:stderr, step_end, host_end
EventCallback = Callable[[str, str, str, str], None]


@dataclass(frozen=True)
class Target:
    name: str
    host: str
    port: int
    auth: Auth
    kind: str

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def resolve_targets(section: SshSection, hosts: list[str], groups: list[str] | None = None,
                    credential: str | None = None, kind: str = "linux") -> list[Target]:
    """Inventory names, group members, or (with `credential`) bare host[:port] addresses."""
    out: list[Target] = []
    seen: set[str] = set()
    names = list(hosts)
    for g in groups or []:
        members = [n for n, h in section.hosts.items() if g in h.groups]
        if not members:
            raise PlaybookError(f"no host in ssh.hosts belongs to group {g!r}")
        names += members
    for name in names:
        if name in seen:
            continue
        seen.add(name)
        entry = section.hosts.get(name)
        if entry is not None:
            host, port = parse_target(entry.address)
            cred = section.credential(credential or entry.credential)
            out.append(Target(name, host, port, cred.auth(), entry.kind))
        elif credential is not None:
            try:
                host, port = parse_target(name)
            except ValueError as e:
                raise PlaybookError(str(e)) from None
            out.append(Target(name, host, port, section.credential(credential).auth(), kind))
        else:
            known = ", ".join(sorted(section.hosts)) or "none configured"
            raise PlaybookError(f"unknown host {name!r}: name one from ssh.hosts ({known}) "
                                "or give --credential to use an address")
    if not out:
        raise PlaybookError("no target host given")
    return out


@dataclass
class PlannedStep:
    step: Step
    command: str = ""  # for run: the exact shell command
    src: str = ""  # for upload
    dest: str = ""  # for upload/write
    content: str = ""  # for write

    def describe(self) -> str:
        s = self.step
        if s.run is not None:
            return self.command
        if s.upload is not None:
            return f"upload {self.src} -> {self.dest}"
        return f"write {self.dest} ({len(self.content)} bytes)"


@dataclass
class Plan:
    playbook: Playbook
    params: dict[str, str]
    targets: list[Target]
    steps: dict[str, list[PlannedStep]]  # target name -> its rendered steps


@dataclass
class StepResult:
    name: str
    action: str
    exit_status: int | None
    ok: bool
    duration: float
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    error: str = ""


@dataclass
class HostResult:
    target: str
    address: str
    result: str  # ok, failed, dry_run
    steps: list[StepResult] = field(default_factory=list)
    error: str = ""
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.result in ("ok", "dry_run")


def who_am_i() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    sudo = os.environ.get("SUDO_USER")
    return f"{sudo} (as {user})" if sudo and sudo != user else user


def plan(pb: Playbook, raw_params: dict[str, str], targets: list[Target]) -> Plan:
    """Validate and render everything; raises PlaybookError before anything connects."""
    params = pb.validate_params(raw_params)
    for t in targets:
        if pb.targets != "any" and t.kind != pb.targets:
            raise PlaybookError(f"{pb.name} is for {pb.targets} hosts; {t.name} is {t.kind}")
    steps: dict[str, list[PlannedStep]] = {}
    for t in targets:
        values = {**params, "target_name": t.name, "target_host": t.host,
                  "target_port": str(t.port), "target_user": t.auth.user}
        rendered: list[PlannedStep] = []
        for s in pb.steps:
            ps = PlannedStep(s)
            if s.run is not None:
                ps.command = render(s.run, values, quote=True)
            elif s.upload is not None:
                ps.src = render(s.upload.src, values, quote=False)
                ps.dest = render(s.upload.dest, values, quote=False)
                if not Path(ps.src).exists():
                    raise PlaybookError(f"step {s.name!r}: local file {ps.src} does not exist")
            elif s.write is not None:
                ps.dest = render(s.write.dest, values, quote=False)
                ps.content = render(s.write.content, values, quote=False)
            rendered.append(ps)
        steps[t.name] = rendered
    return Plan(pb, params, targets, steps)


class PlaybookRunner:
    def __init__(
        self,
        section: SshSection,
        audit: AuditSink,
        *,
        known_hosts: Path,
        on_event: EventCallback | None = None,
    ) -> None:
        self.section = section
        self.audit = audit
        self.known_hosts = known_hosts
        self.on_event = on_event or (lambda *a: None)

    def record_rejected(self, playbook: str, raw_params: dict[str, str], hosts: list[str],
                        error: str, *, who: str, trigger: str) -> None:
        """A refused run is audited too: an injection attempt is worth knowing about."""
        self.audit.record({
            "ts": time.time(), "run_id": uuid.uuid4().hex, "who": who, "trigger": trigger,
            "playbook": playbook, "host": ",".join(hosts), "address": "",
            "parameters": raw_params, "dry_run": False, "result": "rejected",
            "error": error, "steps": [],
        })

    def run(self, p: Plan, *, who: str, trigger: str = "cli",
            dry_run: bool = False) -> list[HostResult]:
        run_id = uuid.uuid4().hex
        results = []
        for t in p.targets:
            started = time.time()
            self.on_event("host_start", t.name, "", t.address)
            if dry_run:
                hr = HostResult(t.name, t.address, "dry_run")
                for ps in p.steps[t.name]:
                    self.on_event("step_start", t.name, ps.step.name, ps.describe())
                    hr.steps.append(StepResult(ps.step.name, ps.describe(), None, True, 0.0))
            else:
                hr = self._run_host(p, t)
            hr.duration = time.time() - started
            self.on_event("host_end", t.name, "", hr.result if not hr.error
                          else f"{hr.result}: {hr.error}")
            self.audit.record({
                "ts": started, "run_id": run_id, "who": who, "trigger": trigger,
                "playbook": p.playbook.name, "host": t.name, "address": t.address,
                "parameters": p.params, "dry_run": dry_run, "result": hr.result,
                "error": hr.error, "duration": round(hr.duration, 3),
                "steps": [{"name": s.name, "action": s.action, "exit_status": s.exit_status,
                           "ok": s.ok, "timed_out": s.timed_out, "error": s.error,
                           "duration": round(s.duration, 3), "stdout": clip(s.stdout),
                           "stderr": clip(s.stderr)} for s in hr.steps],
            })
            results.append(hr)
        return results

    def _run_host(self, p: Plan, t: Target) -> HostResult:
        hr = HostResult(t.name, t.address, "ok")
        steps = p.steps[t.name]
        wall = sum(ps.step.timeout for ps in steps) + 3 * self.section.connect_timeout + 10
        session = SshSession(t.host, t.port, t.auth, self.known_hosts, self.section.timeouts(),
                             wall_clock=wall, max_output=self.section.max_output_bytes)
        try:
            session.connect()
        except SshError as e:
            hr.result, hr.error = "failed", str(e)
            return hr
        try:
            for ps in steps:
                self.on_event("step_start", t.name, ps.step.name, ps.describe())
                sr = self._run_step(session, t, ps)
                hr.steps.append(sr)
                self.on_event("step_end", t.name, ps.step.name,
                              "ok" if sr.ok else (sr.error or f"exit {sr.exit_status}"))
                if not sr.ok:
                    hr.result = "failed"
                    hr.error = f"step {ps.step.name!r}: {sr.error or f'exit {sr.exit_status}'}"
                    if ps.step.on_failure == "abort":
                        break
        finally:
            session.close()
        return hr

    def _run_step(self, session: SshSession, t: Target, ps: PlannedStep) -> StepResult:
        s = ps.step
        started = time.monotonic()
        try:
            if s.run is not None:
                res = session.run(
                    ps.command, timeout=s.timeout,
                    on_output=lambda stream, text: self.on_event(f"output:{stream}", t.name,
                                                                 s.name, text),
                )
                err = ""
                ok = res.exit_status in s.expect.codes() and not res.timed_out \
                    and not res.truncated
                if res.timed_out:
                    err = f"timed out after {s.timeout:g}s (command killed)"
                elif res.truncated:
                    err = "output exceeded max_output_bytes (command killed)"
                elif res.exit_status not in s.expect.codes():
                    err = f"exit status {res.exit_status}, expected {s.expect.codes()}"
                elif s.expect.stdout and not re.search(s.expect.stdout, res.stdout, re.M):
                    ok, err = False, f"stdout does not match {s.expect.stdout!r}"
                return StepResult(s.name, ps.command, res.exit_status, ok,
                                  time.monotonic() - started, res.stdout, res.stderr,
                                  res.timed_out, err)
            if s.upload is not None:
                src = Path(ps.src)
                files = sorted(f for f in src.iterdir() if f.is_file()) if src.is_dir() \
                    else [src]
                for f in files:
                    dest = f"{ps.dest.rstrip('/')}/{f.name}" if src.is_dir() else ps.dest
                    session.put_file(f, dest, s.upload.mode)
                    self.on_event("output:stdout", t.name, s.name, f"uploaded {f.name}\n")
                return StepResult(s.name, ps.describe(), 0, True, time.monotonic() - started,
                                  stdout=f"{len(files)} file(s) uploaded")
            assert s.write is not None
            session.put_bytes(ps.content.encode(), ps.dest, s.write.mode)
            return StepResult(s.name, ps.describe(), 0, True, time.monotonic() - started)
        except SshError as e:
            return StepResult(s.name, ps.describe(), None, False, time.monotonic() - started,
                              error=str(e))


class AlertTrigger:
    """Starts a playbook because a check went down: only if allowed, at most once per
    `playbook_min_interval` per playbook and host, with default parameters, and audited.

    The alerting engine calls `trigger(...)` from a worker thread (it blocks for the run).
    """

    def __init__(self, section: SshSection, audit: AuditSink, known_hosts: Path,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.section = section
        self.audit = audit
        self.known_hosts = known_hosts
        self.clock = clock
        self._last: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def trigger(self, playbook: str, host: str, check: str,
                credential: str | None = None) -> tuple[bool, str]:
        who, trig = "pantau", f"alert:{check}"
        if playbook not in self.section.allowed_playbooks:
            msg = f"playbook {playbook!r} is not in ssh.allowed_playbooks"
            self._reject(playbook, host, msg, who, trig)
            return False, msg
        with self._lock:
            now = self.clock()
            last = self._last.get((playbook, host))
            if last is not None and now - last < self.section.playbook_min_interval:
                gap = self.section.playbook_min_interval
                return False, (f"rate-limited: {playbook} ran on {host} "
                               f"{now - last:.0f}s ago (min {gap:g}s)")
            self._last[(playbook, host)] = now
        try:
            pb = find_playbook(playbook, self.section.playbook_dirs)
            targets = resolve_targets(self.section, [host], credential=credential)
            pl = plan(pb, {}, targets)
        except (PlaybookError, ValueError) as e:
            self._reject(playbook, host, str(e), who, trig)
            return False, str(e)
        runner = PlaybookRunner(self.section, self.audit, known_hosts=self.known_hosts)
        results = runner.run(pl, who=who, trigger=trig)
        ok = all(r.ok for r in results)
        return ok, "; ".join(f"{r.target}: {r.result}{' ' + r.error if r.error else ''}"
                             for r in results)

    def _reject(self, playbook: str, host: str, msg: str, who: str, trig: str) -> None:
        PlaybookRunner(self.section, self.audit, known_hosts=self.known_hosts).record_rejected(
            playbook, {}, [host], msg, who=who, trigger=trig)
