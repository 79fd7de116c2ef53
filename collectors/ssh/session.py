"""A paramiko session that cannot hang and cannot be fooled about whom it talks to.

paramiko's defaults are unsafe for an unattended agent: AutoAddPolicy trusts any key, and a peer
that accepts TCP but never speaks, or a command that never ends, blocks a thread forever. Here
host keys come only from pantau's own known_hosts file (RejectPolicy for anything unknown or
changed), every phase has a timeout, and a wall-clock watchdog closes the socket whatever
paramiko is blocked in. Blocking by design: callers run it in a thread (Context.run_blocking).
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import hashlib
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from collectors.common.hostport import split_host_port
from collectors.common.lazy import lazy_import
from collectors.common.openssl_on_demand import openssl_digests

if TYPE_CHECKING:
    import paramiko
else:
    paramiko = lazy_import("paramiko")

DEFAULT_PORT = 22
EXIT_GRACE = 1.0  # seconds to wait for EOF once the remote command has exited
MAX_OUTPUT_BYTES = 1024 * 1024
OutputCallback = Callable[[str, str], None]  # (stream "stdout"|"stderr", text)


class SshError(Exception):
    """One-line, user-facing reason an SSH operation failed (never a secret)."""


class HostKeyError(SshError):
    """The server's host key is unknown to pantau or differs from the enrolled one."""


class SshTimeout(SshError):
    """A phase (connect, banner, auth, command, whole session) ran out of time."""


def parse_target(target: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """Split host[:port] or [v6]:port with the one host:port parser; ValueError says why."""
    return split_host_port(target, default_port, what="SSH target")


def known_hosts_name(host: str, port: int) -> str:
    """The host entry OpenSSH (and paramiko) use: bare for port 22, else [host]:port."""
    return host if port == DEFAULT_PORT else f"[{host}]:{port}"


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style SHA256 fingerprint, the form `ssh-keygen -lf` prints."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    banner: float = 5.0
    auth: float = 10.0
    command: float = 30.0


@dataclass(frozen=True)
class Auth:
    user: str
    key_file: Path | None = None
    password: str | None = field(default=None, repr=False)
    passphrase: str | None = field(default=None, repr=False)


@dataclass
class CommandResult:
    command: str
    exit_status: int | None  # None: no status (killed, timed out, connection lost)
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_status == 0 and not self.timed_out and not self.truncated


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


class SshSession:
    """One authenticated connection; run commands on it, then close (or use `with`).

    `wall_clock` bounds the whole session: when it passes, the watchdog closes the transport
    and socket, which unblocks any paramiko call stuck in another thread.
    """

    def __init__(
        self,
        host: str,
        port: int,
        auth: Auth,
        known_hosts: Path,
        timeouts: Timeouts | None = None,
        *,
        wall_clock: float = 120.0,
        max_output: int = MAX_OUTPUT_BYTES,
    ) -> None:
        self.host = host
        self.port = port
        self.auth = auth
        self.known_hosts = known_hosts
        self.timeouts = timeouts or Timeouts()
        self.wall_clock = wall_clock
        self.max_output = max_output
        self._client: paramiko.SSHClient | None = None
        self._sock: socket.socket | None = None
        self._watchdog: threading.Timer | None = None
        self.expired = False
        self._started = 0.0

    # -- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> SshSession:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _remaining(self) -> float:
        return max(0.0, self.wall_clock - (time.monotonic() - self._started))

    def _expire(self) -> None:
        self.expired = True
        self._hard_close()

    def _hard_close(self) -> None:
        client, sock = self._client, self._sock
        if client is not None:
            transport = client.get_transport()
            if transport is not None:
                with contextlib.suppress(Exception):
                    transport.close()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def connect(self) -> None:
        self._started = time.monotonic()
        self._watchdog = threading.Timer(self.wall_clock, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()
        t = self.timeouts
        where = f"{self.host}:{self.port}"
        try:
            self._sock = socket.create_connection(
                (self.host, self.port), timeout=min(t.connect, self._remaining())
            )
        except TimeoutError:
            self.close()
            raise SshTimeout(f"{where}: TCP connect timed out after {t.connect:g}s") from None
        except OSError as e:
            self.close()
            raise SshError(f"{where}: cannot connect: {e.strerror or e}") from None
        # before paramiko binds hashlib's functions at its import: a MAC per packet, on
        # OpenSSL's digests rather than CPython's own (the agent starts without them)
        openssl_digests()
        client = paramiko.SSHClient()
        # Only pantau's own file: ~/.ssh/known_hosts of whoever runs the agent is not consulted.
        if self.known_hosts.exists():
            try:
                client.load_system_host_keys(str(self.known_hosts))
            except (OSError, paramiko.SSHException) as e:
                self.close()
                raise SshError(f"cannot read known_hosts {self.known_hosts}: {e}") from None
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        self._client = client
        pkey = None
        if self.auth.key_file is not None:
            try:
                pkey = paramiko.PKey.from_path(self.auth.key_file, self.auth.passphrase)
            except (OSError, paramiko.SSHException, ValueError) as e:
                self.close()
                raise SshError(f"cannot load key {self.auth.key_file}: {_one_line(e)}") from None
        try:
            client.connect(
                self.host, self.port, username=self.auth.user, password=self.auth.password,
                pkey=pkey, sock=self._sock, timeout=t.connect, banner_timeout=t.banner,
                auth_timeout=t.auth, channel_timeout=t.command, allow_agent=False,
                look_for_keys=False,
            )
        except paramiko.BadHostKeyException as e:
            self.close()
            raise HostKeyError(
                f"{where}: host key CHANGED (now {fingerprint(e.key)}); refusing to connect. "
                f"If the change is expected, run `pantau ssh trust {where}`"
            ) from None
        except paramiko.AuthenticationException as e:
            self.close()
            raise SshError(f"{where}: authentication failed for user "
                           f"{self.auth.user!r}: {_one_line(e)}") from None
        except paramiko.SSHException as e:
            expired = self.expired
            self.close()
            msg = _one_line(e)
            if "not found in known_hosts" in msg:
                raise HostKeyError(
                    f"{where}: host key unknown; enrol it with `pantau ssh trust {where}`"
                ) from None
            if expired or "banner" in msg.lower() or "timeout" in msg.lower():
                raise SshTimeout(f"{where}: SSH handshake timed out ({msg})") from None
            raise SshError(f"{where}: SSH error: {msg}") from None
        except (OSError, EOFError) as e:
            expired = self.expired
            self.close()
            if expired:
                raise SshTimeout(f"{where}: session exceeded {self.wall_clock:g}s") from None
            raise SshError(f"{where}: connection failed: {_one_line(e)}") from None

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
        self._hard_close()
        self._client = None
        self._sock = None

    # -- commands ---------------------------------------------------------------------------
    def _transport(self) -> paramiko.Transport:
        transport = self._client.get_transport() if self._client is not None else None
        if transport is None or not transport.is_active():
            if self.expired:
                raise SshTimeout(f"{self.host}:{self.port}: session exceeded "
                                 f"{self.wall_clock:g}s and was closed")
            raise SshError(f"{self.host}:{self.port}: not connected")
        return transport

    def run(
        self,
        command: str,
        timeout: float | None = None,
        on_output: OutputCallback | None = None,
    ) -> CommandResult:
        """Run one command; stdout and stderr are drained together so neither can stall it.

        At the timeout (or when output passes max_output) the remote process group gets
        SIGTERM then SIGKILL through the channel and the channel is closed.
        """
        limit = min(timeout if timeout is not None else self.timeouts.command, self._remaining())
        transport = self._transport()
        started = time.monotonic()
        try:
            chan = transport.open_session(timeout=max(0.1, limit))
            chan.settimeout(max(0.1, limit))
            chan.exec_command(command)
        except (paramiko.SSHException, OSError, EOFError) as e:
            if self.expired:
                raise SshTimeout(f"{self.host}:{self.port}: session exceeded "
                                 f"{self.wall_clock:g}s") from None
            raise SshError(f"{self.host}:{self.port}: cannot start command: "
                           f"{_one_line(e)}") from None
        bufs: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
        decoders = {k: codecs.getincrementaldecoder("utf-8")("replace") for k in bufs}
        total = 0
        timed_out = truncated = False
        chan.setblocking(False)

        def drain() -> bool:
            nonlocal total
            got = False
            for stream, ready, recv in (
                ("stdout", chan.recv_ready, chan.recv),
                ("stderr", chan.recv_stderr_ready, chan.recv_stderr),
            ):
                while ready():
                    data = recv(65536)
                    if not data:
                        break
                    got = True
                    total += len(data)
                    room = self.max_output - len(bufs["stdout"]) - len(bufs["stderr"])
                    bufs[stream] += data[: max(0, room)]
                    if on_output is not None:
                        on_output(stream, decoders[stream].decode(data))
            return got

        exited_at: float | None = None
        try:
            while True:
                got = drain()
                if total > self.max_output:
                    truncated = True
                    break
                if chan.closed or not transport.is_active():
                    drain()  # what arrived before the close is in the buffer by now
                    break
                if chan.exit_status_ready() and not got:
                    # OpenSSH may send exit-status before the last output of the other
                    # stream: wait for EOF, but not for a background child that keeps the
                    # pipes open after the command itself has exited.
                    exited_at = exited_at or time.monotonic()
                    if chan.eof_received or time.monotonic() - exited_at > EXIT_GRACE:
                        drain()
                        break
                if time.monotonic() - started >= limit:
                    timed_out = True
                    break
                if not got:
                    with contextlib.suppress(OSError, ValueError):
                        select.select([chan], [], [], 0.05)
        finally:
            status: int | None = None
            if timed_out or truncated:
                _signal(chan, "TERM")
                _signal(chan, "KILL")
            elif chan.exit_status_ready():
                status = chan.recv_exit_status()
                if status < 0:
                    status = None
            with contextlib.suppress(Exception):
                chan.close()
        if self.expired and status is None and not timed_out:
            raise SshTimeout(f"{self.host}:{self.port}: session exceeded {self.wall_clock:g}s")
        return CommandResult(
            command=command,
            exit_status=status,
            stdout=bufs["stdout"].decode("utf-8", "replace"),
            stderr=bufs["stderr"].decode("utf-8", "replace"),
            duration=time.monotonic() - started,
            timed_out=timed_out,
            truncated=truncated,
        )

    def put_file(self, local: Path, remote: str, mode: int | None = None) -> None:
        """Copy one file over SFTP (deploy-agent ships the wheelhouse this way)."""
        self._sftp(lambda sftp: sftp.put(str(local), remote), remote, mode,
                   f"upload of {local.name} to {remote}")

    def put_bytes(self, data: bytes, remote: str, mode: int | None = None) -> None:
        def write(sftp: paramiko.SFTPClient) -> None:
            with sftp.open(remote, "wb") as f:
                f.write(data)
        self._sftp(write, remote, mode, f"writing {remote}")

    def _sftp(self, action: Callable[[paramiko.SFTPClient], object], remote: str,
              mode: int | None, what: str) -> None:
        """One SFTP session within the deadline: run `action`, then set the mode."""
        transport = self._transport()
        try:
            sftp = paramiko.SFTPClient.from_transport(transport)
            if sftp is None:
                raise SshError("SFTP subsystem unavailable")
            with sftp:
                sftp.get_channel().settimeout(max(1.0, self._remaining()))  # type: ignore[union-attr]
                action(sftp)
                if mode is not None:
                    sftp.chmod(remote, mode)
        except (OSError, paramiko.SSHException, EOFError) as e:
            raise SshError(f"{self.host}:{self.port}: {what} failed: {_one_line(e)}") from None


def _signal(chan: paramiko.Channel, name: str) -> None:
    """Send an RFC 4254 "signal" request: OpenSSH kills the command's process group."""
    if chan.closed:
        return
    m = paramiko.Message()
    m.add_byte(paramiko.common.cMSG_CHANNEL_REQUEST)
    m.add_int(chan.remote_chanid)
    m.add_string("signal")
    m.add_boolean(False)
    m.add_string(name)
    with contextlib.suppress(Exception):
        chan.transport._send_user_message(m)  # type: ignore[union-attr]


# -- host key enrolment ---------------------------------------------------------------------


def fetch_host_key(host: str, port: int, timeout: float = 10.0) -> paramiko.PKey:
    """Do the key exchange only (no auth) to learn the key a server presents."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as e:
        raise SshError(f"{host}:{port}: cannot connect: {e.strerror or e}") from None
    transport = paramiko.Transport(sock)
    transport.banner_timeout = timeout
    timer = threading.Timer(timeout, transport.close)
    timer.daemon = True
    timer.start()
    try:
        transport.start_client(timeout=timeout)
        key = transport.get_remote_server_key()
    except (paramiko.SSHException, OSError, EOFError) as e:
        raise SshError(f"{host}:{port}: key exchange failed: {_one_line(e)}") from None
    finally:
        timer.cancel()
        transport.close()
        with contextlib.suppress(OSError):
            sock.close()
    return key


def enrol_host_key(known_hosts: Path, host: str, port: int, key: paramiko.PKey) -> bool:
    """Add (or replace) the key for host:port in pantau's known_hosts; True if it changed."""
    hk = paramiko.HostKeys()
    if known_hosts.exists():
        hk.load(str(known_hosts))
    name = known_hosts_name(host, port)
    existing = hk.lookup(name)
    if existing is not None and existing.get(key.get_name()) == key and len(existing) == 1:
        return False
    # A changed key replaces every old entry for the name, not just the same algorithm.
    for _ in range(64):  # bounded: one entry per old key type
        if hk.lookup(name) is None:
            break
        del hk[name]
    hk.add(name, key.get_name(), key)
    known_hosts.parent.mkdir(parents=True, exist_ok=True)
    tmp = known_hosts.with_name(known_hosts.name + ".tmp")
    hk.save(str(tmp))
    tmp.chmod(0o600)
    tmp.replace(known_hosts)
    return True
