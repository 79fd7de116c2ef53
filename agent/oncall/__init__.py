"""On-call from the phone: the Telegram bot (commands, buttons under alerts) acting through
the alerting engine — acknowledgements, mutes as maintenance windows, status and report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.oncall.bot import TelegramBot

if TYPE_CHECKING:
    from collections.abc import Iterable

    from agent.alerting.engine import Alerting
    from exporters.notify.telegram import TelegramNotifier


def start_bots(alerting: Alerting, receivers: Iterable[TelegramNotifier]) -> list[TelegramBot]:
    """One bot per Telegram receiver given (those with `bot.enabled`), started on the running
    loop."""
    bots = []
    for n in receivers:
        bot = TelegramBot(alerting, n)
        bot.start()
        bots.append(bot)
    return bots


__all__ = ["TelegramBot", "start_bots"]
