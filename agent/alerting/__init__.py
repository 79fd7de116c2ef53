"""Alerting: the `alerts:` section (config), the per-check state machine with flap damping and
dependency suppression (state), the engine that records changes before it notifies (engine),
the durable outbox that retries deliveries (outbox) and the message texts (messages)."""

from agent.alerting.config import AlertsConfig
from agent.alerting.engine import Alerting, make_notifier

__all__ = ["Alerting", "AlertsConfig", "make_notifier"]
