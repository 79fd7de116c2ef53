"""The `remote_write:` config: clear one-line errors naming the field and the line, and secrets
that never show up in the printed config, the URL or a log line."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import ConfigError, dump_config, parse_config
from tests.helpers.agent import run_cli

BASE = "site: kab-bogor\nremote_write:\n"


def _errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as e:
        parse_config(BASE + text, "t.yml")
    return [str(i) for i in e.value.issues]


def test_minimal_and_defaults() -> None:
    cfg = parse_config(BASE + "  url: https://central.example.go.id/api/v1/write\n")
    rw = cfg.remote_write
    assert rw is not None
    assert rw.batch_size == 2000 and rw.timeout == 30.0 and rw.flush_interval == 5.0
    assert int(rw.queue.max_bytes) == 256 * 1024 * 1024 and rw.queue.max_age == 86400.0
    assert (rw.backoff.min, rw.backoff.max) == (0.5, 30.0)
    assert parse_config("site: x\n").remote_write is None


def test_sizes_and_durations() -> None:
    cfg = parse_config(BASE + "  url: http://10.0.0.1:9090/api/v1/write\n"
                       "  queue: {max_bytes: 64MiB, max_age: 6h, sync_interval: 500ms}\n"
                       "  backoff: {min: 1s, max: 2m}\n")
    rw = cfg.remote_write
    assert rw is not None
    assert int(rw.queue.max_bytes) == 64 * 1024 * 1024
    assert (rw.queue.max_age, rw.queue.sync_interval) == (21600.0, 0.5)
    assert (rw.backoff.min, rw.backoff.max) == (1.0, 120.0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  url: https://user:pw@central/api/v1/write\n",
         "line 3: remote_write.url: put credentials in basic_auth or bearer_token, not in the "
         "url (URLs end up in logs)"),
        ("  url: ftp://central/x\n", "line 3: remote_write.url: url must be http(s)://"),
        ("  url: http://c/w\n  batch_size: 0\n", "line 4: remote_write.batch_size: "),
        ("  url: http://c/w\n  queue: {max_bytes: lots}\n",
         "line 4: remote_write.queue.max_bytes: "),
        ("  url: http://c/w\n  backoff: {min: 10s, max: 1s}\n",
         "line 4: remote_write.backoff: backoff.min must not exceed backoff.max"),
        ("  url: http://c/w\n  basic_auth: {username: u}\n",
         "line 4: remote_write.basic_auth: basic_auth needs password or password_file"),
        ("  url: http://c/w\n  basic_auth: {username: u, password: a, password_file: /etc/x}\n",
         "line 4: remote_write.basic_auth: set either password or password_file, not both"),
        ("  url: http://c/w\n  bearer_token: t\n  basic_auth: {username: u, password: p}\n",
         "line 2: remote_write: set either basic_auth or bearer_token, not both"),
        ("  url: http://c/w\n  bearer_token_file: /nonexistent/token\n",
         "line 2: remote_write: cannot read secret file /nonexistent/token"),
        ("  url: http://c/w\n  headers: {Authorization: Bearer x}\n",
         "line 4: remote_write.headers: header 'Authorization' is set by pantau"),
        ("  url: http://c/w\n  tls_config: {cert_file: /etc/hostname}\n",
         "line 4: remote_write.tls_config: tls_config: set cert_file and key_file together"),
        ("  url: http://c/w\n  tls_config: {ca_file: /nonexistent/ca.pem}\n",
         "line 4: remote_write.tls_config: tls_config.ca_file: /nonexistent/ca.pem is not a "
         "readable file"),
        ("  url: http://c/w\n  urls: http://d/w\n", "line 4: remote_write.urls: unknown field"),
    ],
)
def test_errors_name_field_and_line(text: str, expected: str) -> None:
    errors = _errors(text)
    assert len(errors) == 1, errors
    assert errors[0].startswith(expected), errors[0]


def test_secrets_never_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RW_PASSWORD", "s3cr3t-from-env")
    token = tmp_path / "token"
    token.write_text("t0ken-from-file\n")
    cfg = parse_config(BASE + "  url: https://central/api/v1/write?tenant=k\n"
                       "  basic_auth: {username: kab-bogor, password: '${RW_PASSWORD}'}\n")
    rw = cfg.remote_write
    assert rw is not None and rw.basic_auth is not None
    assert rw.basic_auth.secret().get_secret_value() == "s3cr3t-from-env"
    assert "s3cr3t" not in dump_config(cfg) and "s3cr3t" not in repr(cfg)
    assert rw.safe_url() == "https://central/api/v1/write"  # a query could carry a token
    cfg2 = parse_config(BASE + f"  url: https://central/w\n  bearer_token_file: {token}\n")
    assert cfg2.remote_write is not None
    assert cfg2.remote_write.auth_headers() == {"Authorization": "Bearer t0ken-from-file"}
    assert "t0ken" not in dump_config(cfg2)


def test_check_config_cli_one_line_error_exit_2(tmp_path: Path) -> None:
    f = tmp_path / "bad.yml"
    f.write_text(BASE + "  url: https://user:pw@central/api/v1/write\n")
    r = run_cli("check-config", str(f))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "line 3: remote_write.url: put credentials in basic_auth" in r.stderr
    assert "pw@" not in r.stderr
