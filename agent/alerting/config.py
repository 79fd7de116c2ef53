"""The `alerts:` section: damping, dependency settling, delivery retries, receivers and the
playbooks a down check may trigger."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from collectors.common.timefmt import resolve_zone
from collectors.config import Duration, StrictModel
from exporters.notify import AlertmanagerReceiver, EmailReceiver, TelegramReceiver, WebhookReceiver


class DampingConfig(StrictModel):
    failures: int = Field(3, ge=1, le=1000, description="Consecutive failures to go down.")
    successes: int = Field(2, ge=1, le=1000, description="Consecutive successes to come back.")


class PlaybookPolicy(StrictModel):
    enabled: bool = Field(False, description="Allow checks to trigger playbooks when down.")
    allowed: list[str] = Field(
        default_factory=list, description="Playbooks a check may trigger (by name)."
    )
    max_runs_per_hour: int = Field(2, ge=1, le=60, description="Per check, rolling hour.")
    timeout: Duration = Field(300.0, description="Hard limit of one playbook run.")
    confirm_via: str = Field(
        "", description="Ask first in Telegram: the name of a telegram receiver with "
        "bot.enabled; the playbook runs only after an allowed user presses Ya/Yes.")
    confirm_timeout: Duration = Field(
        900.0, description="How long a confirmation is waited for; no answer runs nothing.")


Receiver = Annotated[
    AlertmanagerReceiver | TelegramReceiver | EmailReceiver | WebhookReceiver,
    Field(discriminator="type"),
]


class AlertsConfig(StrictModel):
    """The `alerts:` section: states, dependencies, receivers."""

    enabled: bool = Field(True, description="Run the alert state machine and notify.")
    language: Literal["id", "en"] = Field("id", description="Message language.")
    timezone: str = Field("WIB", description="WIB, WITA, WIT or an IANA zone name.")
    damping: DampingConfig = Field(default_factory=DampingConfig,
                                   description="Flap damping for every check.")
    per_check: dict[str, DampingConfig] = Field(
        default_factory=dict, description="Damping overrides by check name."
    )
    auto_dependencies: bool = Field(
        False, description="Add dependencies from the paths `type: path` checks discover: a "
        "check on a path's target depends on the path check, the path check on the checks of "
        "its hops (merged with the written depends_on).")
    settle: Duration = Field(
        120.0, description="Longest a down check waits for a failing dependency to settle."
    )
    initial_backoff: Duration = Field(5.0, description="First retry delay of a delivery.")
    max_backoff: Duration = Field(300.0, description="Longest retry delay of a delivery.")
    repeat_interval: Duration | None = Field(
        None, description="Send a firing alert again this often while its check stays "
        "down, unacknowledged and not muted; unset = never.")
    runbook_url: str = Field("", description="Runbook URL template; {check}, {site} replaced.")
    runbook_base_url: str = Field(
        "", description="Absolute URL of the runbook page (docs/alerting.md as your wiki or "
        "web server shows it): `pantau rules` links every alert to base#alertname ({alert} in "
        "the URL is replaced instead), and notifications without runbook_url link to "
        "base#pantaucheckdown.")
    status_url: str = Field("", description="Link to the status page as the admin reaches "
                            "it (e.g. http://10.20.0.5:9877/status), printed in every alert.")
    dashboard_url: str = Field("", description="Grafana dashboard URL template printed in "
                               "every alert; {check}, {site} replaced.")
    receivers: list[Receiver] = Field(default_factory=list, description="Where to notify.")
    playbooks: PlaybookPolicy = Field(
        default_factory=PlaybookPolicy, description="Playbooks a down check may trigger."
    )

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        resolve_zone(v)
        return v

    @field_validator("runbook_base_url")
    @classmethod
    def _runbook_base(cls, v: str) -> str:
        if v:
            from agent.alerting.central import validate_base

            validate_base(v, "runbook_base_url")
        return v

    @model_validator(mode="after")
    def _unique(self) -> AlertsConfig:
        seen: set[str] = set()
        for r in self.receivers:
            if r.name in seen:
                raise ValueError(f"duplicate receiver name {r.name!r}")
            seen.add(r.name)
        via = self.playbooks.confirm_via
        if via and not any(isinstance(r, TelegramReceiver) and r.name == via and r.bot.enabled
                           for r in self.receivers):
            raise ValueError(f"playbooks.confirm_via {via!r} is not a telegram receiver "
                             "with bot.enabled")
        return self
