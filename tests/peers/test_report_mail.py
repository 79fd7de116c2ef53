"""The monthly report mailed to the manager through a real SMTP server (aiosmtpd, STARTTLS +
AUTH required): exact figures in the body, the files attached byte for byte, sent once per
month across restarts, retried after the server refused or was down, and sent by a running
`pantau run` on its own at start when last month's mail is still owed."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from agent.config import load_config
from agent.reports.schedule import mail_monthly, previous_month, write_monthly
from exporters.notify import DeliveryError
from tests.helpers.agent import free_port, run_agent
from tests.helpers.notify_peers import Mailbox, smtp_server
from tests.helpers.report_office import WIB, make_office

PASSWORD = "rahasia-smtp-kantor"


def mail_yaml(port: int, ca: Path | str) -> str:
    return (
        "  monthly: true\n"
        "  monthly_formats: [html, csv]\n"
        "  monthly_email: kepala-dinas\n"
        "alerts:\n"
        "  receivers:\n"
        "    - name: kepala-dinas\n"
        "      type: email\n"
        f"      smarthost: 127.0.0.1:{port}\n"
        "      from: pantau@dpmptsp.kab-contoh.go.id\n"
        "      to: [kepala@kab-contoh.go.id, admin@kab-contoh.go.id]\n"
        "      username: pantau\n"
        f"      password: {PASSWORD}\n"
        f"      tls_config: {{ca_file: {ca}}}\n"
        "      timeout: 10s\n"
    )


def lines(text: str) -> list[str]:
    """Text parts travel in MIME canonical form (CRLF line ends)."""
    return text.replace("\r\n", "\n").rstrip("\n").split("\n")


def parsed(box: Mailbox, i: int) -> EmailMessage:
    msg = email.message_from_string(box.messages[i]["data"], policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_monthly_report_mailed_once_with_attachments(tmp_path: Path) -> None:
    port = free_port()
    cert_dir = tmp_path / "smtp"
    cert_dir.mkdir()
    # The CA file must exist for the config to load before the server runs: the server's own
    # self-signed certificate is written by smtp_server; point at its future path.
    cfg_path = make_office(tmp_path, mail_yaml(port, cert_dir / "smtp.crt"))
    now = datetime(2026, 11, 1, 0, 10, tzinfo=WIB)

    with smtp_server(cert_dir, port, "pantau", PASSWORD) as (box, _cert):
        cfg = load_config(cfg_path)
        written = write_monthly(cfg, now)
        assert sorted(p.name for p in written) == ["dpmptsp-kab-contoh-2026-10.csv",
                                                    "dpmptsp-kab-contoh-2026-10.html"]
        assert asyncio.run(mail_monthly(cfg, now)) is True
        assert len(box.messages) == 1
        got = box.messages[0]
        assert got["tls"] and got["auth"]
        assert got["to"] == ["kepala@kab-contoh.go.id", "admin@kab-contoh.go.id"]
        msg = parsed(box, 0)
        assert msg["Subject"] == "Laporan Ketersediaan Layanan dpmptsp-kab-contoh 2026-10"
        assert msg["Message-ID"] == "<report-2026-10@pantau.dpmptsp-kab-contoh>"
        body = msg.get_body(preferencelist=("plain",))
        assert body is not None
        text = body.get_content()
        # portal: 2 h down out of 16 days monitored -> 99.479 %, under its 99.5 % target
        assert "- portal: 99,479 % (Target 99,500 %; Tercapai: Tidak)" in text, text
        # uplink: 3 h down out of 31 days -> 99.597 %, over target
        assert "- uplink: 99,597 % (Target 99,500 %; Tercapai: Ya)" in text, text
        files = {a.get_filename(): a.get_content() for a in msg.iter_attachments()}
        assert set(files) == {p.name for p in written}
        for p in written:
            assert lines(files[p.name]) == lines(p.read_text(encoding="utf-8")), p.name

        # Sent once: a second pass (next hour, or after a restart) sends nothing.
        assert asyncio.run(mail_monthly(load_config(cfg_path), now)) is False
        assert len(box.messages) == 1
        marker = next((cfg.state_dir / "reports").glob(".*mailed-kepala-dinas"))
        assert PASSWORD not in marker.read_text()

    # Next month the server is down: a clear error, nothing marked, so it is retried...
    dec = datetime(2026, 12, 1, 0, 10, tzinfo=WIB)
    write_monthly(cfg, dec)
    with pytest.raises(DeliveryError) as err:
        asyncio.run(mail_monthly(cfg, dec))
    assert f"127.0.0.1:{port}" in str(err.value) and PASSWORD not in str(err.value)
    assert not list((cfg.state_dir / "reports").glob(".*2026-11.mailed-*"))
    # ... and goes out once the server is back.
    with smtp_server(cert_dir, port, "pantau", PASSWORD) as (box, _cert):
        assert asyncio.run(mail_monthly(cfg, dec)) is True
        assert parsed(box, 0)["Subject"].endswith("dpmptsp-kab-contoh 2026-11")


def test_running_agent_mails_last_months_report(tmp_path: Path) -> None:
    """`pantau run` owes last month's report at start (it has never sent it): it writes and
    mails it without being asked, and does not send it again after a restart."""
    port = free_port()
    cert_dir = tmp_path / "smtp"
    cert_dir.mkdir()
    with smtp_server(cert_dir, port, "pantau", PASSWORD) as (box, cert):
        cfg_path = make_office(tmp_path, mail_yaml(port, cert))
        start, _ = previous_month(datetime.now(WIB))
        for _ in range(2):  # start, stop, start again
            with run_agent(cfg_path.read_text(), tmp_path / "agent") as agent:
                deadline = time.monotonic() + 30
                while not box.messages and time.monotonic() < deadline:
                    time.sleep(0.2)
                time.sleep(1.0)  # would a second mail follow?
                assert PASSWORD not in agent.log_text()
        assert len(box.messages) == 1, agent.log_text()
        assert parsed(box, 0)["Subject"].endswith(f"dpmptsp-kab-contoh {start:%Y-%m}")
