"""Where alerts go: the Notifier protocol and one module per receiver type (Alertmanager,
e-mail, Telegram, webhook), each with its config model. Client libraries are bound lazily."""

from exporters.notify.alertmanager import AlertmanagerNotifier, AlertmanagerReceiver
from exporters.notify.base import DeliveryError, Notification, Notifier
from exporters.notify.email import EmailNotifier, EmailReceiver
from exporters.notify.telegram import TelegramBot, TelegramNotifier, TelegramReceiver
from exporters.notify.webhook import WebhookNotifier, WebhookReceiver

__all__ = [
    "AlertmanagerNotifier", "AlertmanagerReceiver", "DeliveryError", "EmailNotifier",
    "EmailReceiver", "Notification", "Notifier", "TelegramBot", "TelegramNotifier",
    "TelegramReceiver", "WebhookNotifier", "WebhookReceiver",
]
