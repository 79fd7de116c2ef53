"""On-call from the phone: the Telegram bot (commands, buttons under alerts) acting through
the alerting engine — acknowledgements, mutes as maintenance windows, status and report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.oncall.bot import TelegramBot
from exporters.notify.telegram import TelegramNotifier

if TYPE_CHECKING:
    from agent.alerting.engine import Alerting


def start_bots(alerting: Alerting) -> list[TelegramBot]:
    """One bot per Telegram receiver with `bot.enabled`, started on the running loop."""
    bots = []
    for n in alerting.notifiers.values():
        if isinstance(n, TelegramNotifier) and n.cfg.bot.enabled:
            bot = TelegramBot(alerting, n)
            bot.start()
            bots.append(bot)
    return bots


__all__ = ["TelegramBot", "start_bots"]
