"""`type: ssh` checks: agentless Linux hosts, MikroTik RouterOS, or any command + extractor.

One SSH session per run, opened and closed inside the run's deadline: a router that hangs
mid-session costs one run (the watchdog closes it), never a stuck connection kept for later.
Credentials and known_hosts come from the `ssh:` section (see ssh_config.SshSection).
"""

from __future__ import annotations

import builtins
import re
import time
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import BaseModel, Field, PrivateAttr, field_validator, model_validator

from collectors.base import Context, MetricSpec, Observation, Sample
from collectors.common.lazy import lazy_import
from collectors.config import CheckConfig, Regex
from collectors.ssh.parsers import (
    LINUX_COMMAND,
    ROUTEROS_COMMANDS,
    ParseError,
    merge_interfaces,
    parse_linux,
    parse_ros_interface_detail,
    parse_ros_interface_stats,
    parse_ros_resource,
)
from collectors.ssh.session import SshError, SshSession, Timeouts, parse_target

if TYPE_CHECKING:
    import paramiko

    from collectors.ssh.config import SshSection
else:
    paramiko = lazy_import("paramiko")

_NUMBER_RE = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


class SshCheckConfig(CheckConfig):
    type: Literal["ssh"]
    credential: str = Field(min_length=1, description="A name from ssh.credentials.")
    mode: Literal["linux", "routeros", "command"] = Field(
        "linux", description="linux: /proc + df; routeros: MikroTik; command: `command`.")
    command: str | None = Field(None, description="mode command: what to run.")
    # mode command: the value is group "value" (or group 1, or the whole match) of `regex`
    # in stdout; without a regex, the first number in stdout.
    regex: Regex | None = Field(
        None, description="mode command: group `value`, else group 1, else the match is the "
        "number; default: the first number in stdout.")
    expect_exit: int | None = Field(
        0, description="mode command: exit code counted a success (null: any).")
    host_label: str | None = Field(
        None, description="Value of the `host` label (default: target's host).")

    _section: SshSection | None = PrivateAttr(default=None)

    @field_validator("target")
    @classmethod
    def _target_valid(cls, v: str) -> str:
        parse_target(v)
        return v

    @model_validator(mode="after")
    def _mode_fields(self) -> SshCheckConfig:
        if self.mode == "command" and not (self.command and self.command.strip()):
            raise ValueError("mode command needs `command`")
        if self.mode != "command" and (self.command or self.regex):
            raise ValueError(f"`command`/`regex` only apply to mode command, not {self.mode}")
        return self

    def bind(self, section: SshSection) -> None:
        self._section = section

    @property
    def host(self) -> str:
        return self.host_label or parse_target(self.target)[0]


def _m(name: str, kind: Literal["gauge", "counter", "info"], help_: str,
       *labels: str) -> MetricSpec:
    return MetricSpec(name, kind, help_, ("host", *labels))


class SshCollector:
    type: ClassVar[str] = "ssh"
    Config: ClassVar[builtins.type[BaseModel]] = SshCheckConfig
    per_check: ClassVar[bool] = True
    METRICS: ClassVar[tuple[MetricSpec, ...]] = (
        _m("pantau_ssh_up", "gauge", "1 if the SSH session, commands and parsing succeeded."),
        _m("pantau_ssh_duration_seconds", "gauge", "Time the SSH check took."),
        _m("pantau_remote_load1", "gauge", "1-minute load average of a host read over SSH."),
        _m("pantau_remote_load5", "gauge", "5-minute load average of a host read over SSH."),
        _m("pantau_remote_load15", "gauge", "15-minute load average of a host read over SSH."),
        _m("pantau_remote_memory_total_bytes", "gauge", "MemTotal of a host read over SSH."),
        _m("pantau_remote_memory_available_bytes", "gauge",
           "MemAvailable of a host read over SSH."),
        _m("pantau_remote_filesystem_size_bytes", "gauge", "Filesystem size (df) over SSH.",
           "mountpoint", "fstype"),
        _m("pantau_remote_filesystem_avail_bytes", "gauge",
           "Filesystem space available to non-root users (df) over SSH.",
           "mountpoint", "fstype"),
        _m("pantau_remote_uptime_seconds", "gauge", "Seconds since boot of a host over SSH."),
        _m("pantau_routeros_interface_running", "gauge",
           "1 if the RouterOS interface has the R (running) flag.", "interface"),
        _m("pantau_routeros_interface_disabled", "gauge",
           "1 if the RouterOS interface is disabled (X flag).", "interface"),
        _m("pantau_routeros_interface_rx_bytes_total", "counter",
           "Bytes received by a RouterOS interface.", "interface"),
        _m("pantau_routeros_interface_tx_bytes_total", "counter",
           "Bytes sent by a RouterOS interface.", "interface"),
        _m("pantau_routeros_interface_rx_packets_total", "counter",
           "Packets received by a RouterOS interface.", "interface"),
        _m("pantau_routeros_interface_tx_packets_total", "counter",
           "Packets sent by a RouterOS interface.", "interface"),
        _m("pantau_routeros_interface_link_downs_total", "counter",
           "Link-down events of a RouterOS interface since boot.", "interface"),
        _m("pantau_routeros_cpu_load_ratio", "gauge", "RouterOS CPU load (0-1)."),
        _m("pantau_routeros_uptime_seconds", "gauge", "RouterOS uptime."),
        _m("pantau_routeros_memory_total_bytes", "gauge", "RouterOS total memory."),
        _m("pantau_routeros_memory_free_bytes", "gauge", "RouterOS free memory."),
        _m("pantau_routeros_info", "info", "Always 1: RouterOS version and board.",
           "version", "board"),
        _m("pantau_ssh_command_value", "gauge", "Number extracted from the command output."),
        _m("pantau_ssh_command_exit_code", "gauge", "Exit code of the command."),
    )

    def __init__(self, config: SshCheckConfig) -> None:
        self.config = config

    async def collect(self, ctx: Context) -> Observation:
        started = time.monotonic()
        host = self.config.host
        section = self.config._section
        if section is None:
            return Observation(False, [Sample.of("pantau_ssh_up", 0, host=host)],
                               reason="ssh check not bound to the ssh section "
                               "(SshSection.bind_checks was not called)")
        # Leave a little of the deadline for the thread to report back before asyncio stops
        # waiting: the session's own watchdog fires first.
        budget = max(0.2, ctx.deadline.remaining() * 0.9)
        obs = await ctx.run_blocking(self._collect_sync, section, budget)
        duration = time.monotonic() - started
        obs.samples.append(Sample.of("pantau_ssh_duration_seconds", duration, host=host))
        obs.samples.append(Sample.of("pantau_ssh_up", 1 if obs.success else 0, host=host))
        obs.duration = duration
        return obs

    def _collect_sync(self, section: SshSection, budget: float) -> Observation:
        cfg = self.config
        host, port = parse_target(cfg.target)
        t = section.timeouts()
        timeouts = Timeouts(min(t.connect, budget), min(t.banner, budget), min(t.auth, budget),
                            min(t.command, budget))
        session = SshSession(host, port, section.credential(cfg.credential).auth(),
                             section.known_hosts_path(), timeouts, wall_clock=budget,
                             max_output=section.max_output_bytes)
        try:
            session.connect()
            if cfg.mode == "linux":
                return self._linux(session)
            if cfg.mode == "routeros":
                return self._routeros(session)
            return self._command(session)
        except SshError as e:
            return Observation(False, reason=str(e))
        except ParseError as e:
            return Observation(False, reason=str(e))
        except (OSError, EOFError, paramiko.SSHException) as e:  # a peer breaking mid-run
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            return Observation(False, reason=f"{cfg.target}: SSH session failed: {first}")
        finally:
            session.close()

    def _linux(self, session: SshSession) -> Observation:
        res = session.run(LINUX_COMMAND)
        if res.timed_out or res.truncated:
            return Observation(False, reason=_cut_reason(res.timed_out))
        st = parse_linux(res.stdout)
        h = self.config.host
        samples = [
            Sample.of("pantau_remote_load1", st.load1, host=h),
            Sample.of("pantau_remote_load5", st.load5, host=h),
            Sample.of("pantau_remote_load15", st.load15, host=h),
            Sample.of("pantau_remote_memory_total_bytes", st.memory_total_bytes, host=h),
            Sample.of("pantau_remote_memory_available_bytes", st.memory_available_bytes, host=h),
            Sample.of("pantau_remote_uptime_seconds", st.uptime_seconds, host=h),
        ]
        for fs in st.filesystems:
            samples.append(Sample.of("pantau_remote_filesystem_size_bytes", fs.size_bytes,
                                     host=h, mountpoint=fs.mountpoint, fstype=fs.fstype))
            samples.append(Sample.of("pantau_remote_filesystem_avail_bytes", fs.avail_bytes,
                                     host=h, mountpoint=fs.mountpoint, fstype=fs.fstype))
        return Observation(True, samples, details={"filesystems": len(st.filesystems)})

    def _routeros(self, session: SshSession) -> Observation:
        out: dict[str, str] = {}
        for key, command in ROUTEROS_COMMANDS.items():
            res = session.run(command)
            if res.timed_out or res.truncated:
                return Observation(False, reason=f"{command}: " + _cut_reason(res.timed_out))
            out[key] = res.stdout
        resource = parse_ros_resource(out["resource"])
        ifaces = merge_interfaces(parse_ros_interface_stats(out["stats"]),
                                  parse_ros_interface_detail(out["detail"]))
        h = self.config.host
        samples = [
            Sample.of("pantau_routeros_cpu_load_ratio", resource.cpu_load_ratio, host=h),
            Sample.of("pantau_routeros_uptime_seconds", resource.uptime_seconds, host=h),
            Sample.of("pantau_routeros_memory_total_bytes", resource.memory_total_bytes, host=h),
            Sample.of("pantau_routeros_memory_free_bytes", resource.memory_free_bytes, host=h),
            Sample.of("pantau_routeros_info", 1, host=h, version=resource.version,
                      board=resource.board),
        ]
        for i in ifaces:
            samples.append(Sample.of("pantau_routeros_interface_running", int(i.running),
                                     host=h, interface=i.name))
            samples.append(Sample.of("pantau_routeros_interface_disabled", int(i.disabled),
                                     host=h, interface=i.name))
            for attr in ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "link_downs"):
                v = getattr(i, attr)
                if v is not None:
                    samples.append(Sample.of(f"pantau_routeros_interface_{attr}_total", v,
                                             host=h, interface=i.name))
        return Observation(True, samples, details={"interfaces": len(ifaces)})

    def _command(self, session: SshSession) -> Observation:
        cfg = self.config
        assert cfg.command is not None
        res = session.run(cfg.command)
        h = cfg.host
        if res.timed_out or res.truncated:
            return Observation(False, reason=_cut_reason(res.timed_out))
        samples = []
        if res.exit_status is not None:
            samples.append(Sample.of("pantau_ssh_command_exit_code", res.exit_status, host=h))
        value = _extract(cfg.regex, res.stdout)
        if value is not None:
            samples.append(Sample.of("pantau_ssh_command_value", value, host=h))
        if cfg.expect_exit is not None and res.exit_status != cfg.expect_exit:
            return Observation(False, samples, reason=f"command exited with "
                               f"{res.exit_status}, expected {cfg.expect_exit}")
        if value is None:
            what = f"regex {cfg.regex!r} found no number" if cfg.regex else "no number"
            return Observation(False, samples, reason=f"{what} in the command output")
        return Observation(True, samples)

    async def aclose(self) -> None:
        return None


def _cut_reason(timed_out: bool) -> str:
    return "command timed out and was killed" if timed_out else \
        "command output exceeded max_output_bytes and was cut"


def _extract(regex: str | None, text: str) -> float | None:
    if regex is None:
        m = _NUMBER_RE.search(text)
        return float(m.group(0)) if m else None
    m = re.search(regex, text, re.MULTILINE)
    if not m:
        return None
    if "value" in m.re.groupindex:
        raw = m.group("value")
    elif m.re.groups:
        raw = m.group(1)
    else:
        raw = m.group(0)
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None
