"""The `status_page:` section: the live page at / (groups) and the citizens' page at /status."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from collectors.config import Duration, StrictModel

Group = Literal["host", "gateway", "uplinks", "dns", "services", "network"]
GROUPS: tuple[Group, ...] = ("host", "gateway", "uplinks", "dns", "services", "network")


class PublicService(StrictModel):
    """One service shown to citizens, under the name the office gives it."""

    check: str = Field(description="The configured check whose state this service shows.")
    name: str = Field(min_length=1, max_length=120,
                      description='Public name, e.g. "Layanan Perizinan Online".')
    description: str = Field("", max_length=300, description="One line under the name.")
    show_reason: bool = Field(
        False, description="Show the technical reason of an outage (off: plain words only).")


class StatusPageConfig(StrictModel):
    """The live status page at / (always on, same auth as /metrics) and the public page for
    citizens at /status and `pantau status-page export` (opt-in: `public: true`)."""

    refresh: Duration = Field(10.0, description="How often the open page re-reads the API.")
    groups: dict[str, Group] = Field(
        default_factory=dict,
        description="Group of a check on the page (host, gateway, uplinks, dns, services, "
        "network) when the guess from its type and dependencies is wrong.")
    public: bool = Field(
        False, description="Serve /status and allow the static export. /status is then "
        "readable without the password even when basic auth protects /metrics (citizens have "
        "none), unless public_auth is on; it never shows internal addresses.")
    public_auth: bool = Field(
        False, description="Ask for the /metrics password on /status too.")
    office: str = Field("", max_length=200, description="The office's name on the public page.")
    logo: Path | None = Field(
        None, description="PNG, JPEG or SVG file embedded in the public page (at most 200 KB).")
    services: list[PublicService] = Field(
        default_factory=list, description="What the public page shows, in this order.")
    days: int = Field(90, ge=7, le=366, description="Daily bars on the public page.")
    show_maintenance_reason: bool = Field(
        False, description="Show the reason of planned maintenance on the public page.")
    export_dir: Path | None = Field(
        None, description="Write the public page as static files here on a schedule.")
    export_interval: Duration = Field(300.0, description="How often export_dir is rewritten.")

    @field_validator("services")
    @classmethod
    def _unique(cls, v: list[PublicService]) -> list[PublicService]:
        seen: set[str] = set()
        for s in v:
            if s.check in seen:
                raise ValueError(f"check {s.check!r} is listed twice")
            seen.add(s.check)
        return v
