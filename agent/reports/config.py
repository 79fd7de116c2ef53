"""The `reports:` section: SLO targets, time zone, maintenance windows, the monthly schedule."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from collectors.common.timefmt import resolve_zone
from collectors.config import StrictModel

Format = Literal["html", "pdf", "csv", "json"]
Lang = Literal["id", "en"]

DEFAULT_MONTHLY: tuple[Format, ...] = ("html", "csv")


class MaintenanceWindow(StrictModel):
    """A planned maintenance window: excluded from the SLA and shown as such."""

    start: datetime
    end: datetime
    checks: list[str] = Field(default_factory=list, description="Empty: the whole site.")
    reason: str = ""

    @field_validator("end")
    @classmethod
    def _after_start(cls, v: datetime, info: Any) -> datetime:
        start = info.data.get("start")
        if start is not None and v <= start:
            raise ValueError("end must be after start")
        return v


class Office(StrictModel):
    """Who the report is from: printed in the letterhead instead of the site slug."""

    name: str = Field(description="Full name, e.g. \"Dinas Komunikasi dan Informatika "
                      "Kabupaten Contoh\".")
    address: str = Field("", description="Postal address under the name.")
    logo: Path | None = Field(
        None, description="PNG, JPEG or SVG file printed left of the name (embedded in the "
        "report, so the HTML and PDF stand alone).")

    @field_validator("logo")
    @classmethod
    def _logo(cls, v: Path | None) -> Path | None:
        if v is None:
            return v
        if v.suffix.lower() not in LOGO_TYPES:
            raise ValueError(f"logo {str(v)!r}: use a .png, .jpg or .svg file")
        if not v.is_file():
            raise ValueError(f"logo {str(v)!r}: no such file")
        return v


LOGO_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
              ".svg": "image/svg+xml"}


class Signatory(StrictModel):
    """One signature box at the end of the report."""

    role: str = Field(description="The line above the signature, e.g. \"Mengetahui\" or "
                      "\"Dibuat oleh\".")
    jabatan: str = Field(description="Position, e.g. \"Kepala Dinas\".")
    nama: str = Field(description="Full name with titles, printed under the signature space.")
    nip: str = Field("", description="NIP (civil servant number); printed as \"NIP. ...\".")


class ReportsConfig(StrictModel):
    """Availability reports: SLO targets, time zone, maintenance and the monthly schedule."""

    timezone: str = Field("WIB", description="WIB, WITA, WIT or an IANA zone.")
    language: Lang = "id"
    office: Office | None = Field(None, description="Letterhead: the office's full name, "
                                  "address and logo. Without it the site name is shown.")
    signatories: list[Signatory] = Field(
        default_factory=list, description="Signature boxes after the last table, in order "
        "(left to right), e.g. \"Dibuat oleh\" the admin and \"Mengetahui\" the head.")
    slo: float = Field(0.99, gt=0, lt=1, description="Default availability target (ratio).")
    slo_per_check: dict[str, float] = Field(default_factory=dict)
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)
    min_coverage: float = Field(
        0.5, ge=0, le=1, description="Share of the period that must have been monitored "
        "(coverage, ratio) for an availability to be shown; below it the report shows \"—\" "
        "with a note instead of a figure over a few minutes of data.")
    ignore_shorter_than: float = Field(
        0, ge=0, description="Seconds: an interruption that ended within this time is not "
        "counted as an outage nor as downtime (Checkmk's short interruptions); 0 counts all.")
    max_outages: int | None = Field(
        None, ge=0, description="Optional target for the number of outages per check and "
        "period, shown as met or not beside the availability target.")
    status_url: str = Field(
        "", description="Status page link printed in the report (default: alerts.status_url).")
    dashboard_url: str = Field(
        "", description="Grafana dashboard link printed in the report; {site} and {check} "
        "replaced ({check} by $__all in the report's header). Default: alerts.dashboard_url.")
    monthly: bool = Field(False, description="Write last month's report to state_dir/reports.")
    monthly_formats: list[Format] = Field(default_factory=lambda: list(DEFAULT_MONTHLY))
    monthly_email: str | None = Field(
        None, description="Name of an e-mail receiver under alerts.receivers: last month's "
        "report is mailed to its recipients (files attached) once written; retried every hour "
        "until the server accepts it, sent once per month.")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        resolve_zone(v)
        return v

    @field_validator("slo_per_check")
    @classmethod
    def _slos(cls, v: dict[str, float]) -> dict[str, float]:
        for k, x in v.items():
            if not 0 < x < 1:
                raise ValueError(f"slo for {k!r} must be a ratio between 0 and 1, e.g. 0.995")
        return v
