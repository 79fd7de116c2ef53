"""The Telegram bot: long polling getUpdates (outbound only, so it works behind the office
NAT), the allow-list, and the commands acted on through the alerting engine.

The update offset is written to state_dir *before* a command is acted on: after a kill -9 in
the middle of an update that update is confirmed and never run twice (at most once is the
right failure for "mute for 4 hours"; a lost command is visible to the admin, a doubled
one is not). When the API is unreachable the poll backs off (1 s doubling to max_backoff)
and updates waiting at Telegram are fetched when it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.oncall.commands import TEXTS, Command, Invalid, button, parse
from collectors.common.timefmt import format_time
from exporters.notify.base import DeliveryError
from exporters.notify.telegram import TelegramNotifier

if TYPE_CHECKING:
    from agent.alerting.engine import Alerting

log = logging.getLogger(__name__)


class TelegramBot:
    def __init__(self, alerting: Alerting, notifier: TelegramNotifier) -> None:
        self.alerting = alerting
        self.api = notifier
        self.name = notifier.name
        self.cfg = notifier.cfg.bot
        self.lang = notifier.language
        self.chats = {str(notifier.cfg.chat_id), *self.cfg.allowed_chat_ids}
        self.users = set(self.cfg.allowed_user_ids)
        state_dir = Path(getattr(alerting.config, "state_dir", "."))
        # the name is the receiver's, never the token: file names end up in logs
        self.offset_path = state_dir / f"telegram-{_safe(self.name)}.offset"
        self.offset = self._read_offset()
        self._task: asyncio.Task[None] | None = None
        # playbook confirmations waiting for Ya/Tidak: token -> the answer to come
        self._asks: dict[str, asyncio.Future[tuple[bool, str]]] = {}

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"telegram-bot:{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    # -- offset, durable ----------------------------------------------------------------
    def _read_offset(self) -> int:
        try:
            return int(self.offset_path.read_text().strip() or 0)
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as e:
            log.warning("telegram bot %s: offset file unreadable (%s), starting from the "
                        "oldest pending update", self.name, e)
            return 0

    def _write_offset(self, offset: int) -> None:
        self.offset = offset
        tmp = self.offset_path.with_suffix(".tmp")
        try:
            with open(tmp, "w") as f:
                f.write(str(offset))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.offset_path)
        except OSError as e:
            log.error("telegram bot %s: cannot record the update offset: %s", self.name, e)

    # -- polling ------------------------------------------------------------------------
    async def _loop(self) -> None:
        backoff = 1.0
        while True:
            try:
                updates = await self.api.call(
                    "getUpdates", {"offset": self.offset, "timeout": int(self.cfg.poll_timeout),
                                   "allowed_updates": ["message", "callback_query"]},
                    self.cfg.poll_timeout + 10)
            except DeliveryError as e:
                self.alerting.count_oncall("poll_errors", self.name)
                log.warning("telegram bot %s: getUpdates failed (retry in %.0f s): %s",
                            self.name, backoff, e)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.cfg.max_backoff)
                continue
            backoff = 1.0
            if not isinstance(updates, list):
                self.alerting.count_oncall("malformed_updates", self.name)
                log.warning("telegram bot %s: getUpdates result is not a list; ignored",
                            self.name)
                await asyncio.sleep(1.0)
                continue
            for update in updates:
                await self.handle_update(update)

    async def handle_update(self, update: Any) -> None:
        uid = update.get("update_id") if isinstance(update, dict) else None
        if not isinstance(uid, int) or isinstance(uid, bool):
            self.alerting.count_oncall("malformed_updates", self.name)
            log.warning("telegram bot %s: update without an update_id ignored", self.name)
            return
        if uid < self.offset:
            return  # already handled before a restart
        self._write_offset(uid + 1)  # before acting: never twice
        try:
            if isinstance(update.get("callback_query"), dict):
                await self._callback(uid, update["callback_query"])
            elif isinstance(update.get("message"), dict):
                await self._message(uid, update["message"])
            else:
                raise _Malformed("neither a message nor a callback_query")
        except _Malformed as e:
            self.alerting.count_oncall("malformed_updates", self.name)
            log.warning("telegram bot %s: malformed update %d ignored: %s", self.name, uid, e)
        except DeliveryError as e:
            log.warning("telegram bot %s: answer to update %d not delivered: %s",
                        self.name, uid, e)

    # -- one update ---------------------------------------------------------------------
    def _who(self, src: dict[str, Any]) -> tuple[str, str]:
        user = src.get("from")
        if not isinstance(user, dict) or not isinstance(user.get("id"), int):
            raise _Malformed("no sender")
        name = user.get("username") or user.get("first_name") or ""
        return str(user["id"]), str(name)[:64] or str(user["id"])

    def _allowed(self, chat_id: str, user_id: str) -> bool:
        return chat_id in self.chats and user_id in self.users

    async def _message(self, uid: int, msg: dict[str, Any]) -> None:
        chat = msg.get("chat")
        if not isinstance(chat, dict) or not isinstance(chat.get("id"), int | str):
            raise _Malformed("message without a chat")
        chat_id = str(chat["id"])
        text = msg.get("text")
        if not isinstance(text, str):
            return  # photos, stickers, joins: nothing to do
        user_id, who = self._who(msg)
        try:
            cmd = parse(text)
        except Invalid as e:
            if not self._allowed(chat_id, user_id):
                await self._refuse(chat_id, user_id, who, "?")
                return
            self.alerting.count_oncall("command", self.name, "unknown", "invalid")
            await self._say(chat_id, self._t(e.key, **e.values))
            return
        if cmd is None:
            return
        if not self._allowed(chat_id, user_id):
            await self._refuse(chat_id, user_id, who, cmd.name)
            return
        reply = await self._run(cmd, who, user_id)
        await self._say(chat_id, reply)

    async def _callback(self, uid: int, cq: dict[str, Any]) -> None:
        qid = cq.get("id")
        data = cq.get("data")
        msg = cq.get("message")
        if not isinstance(qid, str) or not isinstance(data, str):
            raise _Malformed("callback_query without id or data")
        user_id, who = self._who(cq)
        chat_id = ""
        if isinstance(msg, dict) and isinstance(msg.get("chat"), dict):
            chat_id = str(msg["chat"].get("id"))
        if data.startswith("pb:"):
            await self._answer_confirm(qid, data, chat_id, user_id, who, msg)
            return
        cmd = button(data)
        if cmd is None:
            raise _Malformed(f"unknown button {data[:64]!r}")
        if not self._allowed(chat_id, user_id):
            await self._refuse(chat_id, user_id, who, cmd.name, callback=qid)
            return
        reply = await self._run(cmd, who, user_id)
        await self.api.call("answerCallbackQuery",
                            {"callback_query_id": qid, "text": reply[:200]}, 10.0)
        if cmd.name in ("ack", "mute") and isinstance(msg, dict) and \
                isinstance(msg.get("message_id"), int) and isinstance(msg.get("text"), str):
            # the alert itself shows who took it, for everyone else in the group
            await self.api.call("editMessageText", {
                "chat_id": chat_id, "message_id": msg["message_id"],
                "text": f"{msg['text']}\n\n{reply}"[:4096]}, 10.0)
        elif cmd.name == "down":
            await self._say(chat_id, reply)

    # -- playbook confirmation ----------------------------------------------------------
    async def confirm(self, check: str, playbook: str,
                      timeout: float) -> tuple[bool, str, str]:
        """Ask the alert chat whether to run `playbook` for `check`: (run, result, who/why).
        Only a Ya/Yes from an allowed user runs it; Tidak/No or no answer runs nothing."""
        token = secrets.token_hex(8)
        name, _, host = playbook.partition("@")
        text = self._t("confirm_ask", playbook=name, host=host or "?", check=check)
        markup = {"inline_keyboard": [[
            {"text": self._t("yes"), "callback_data": f"pb:yes:{token}"},
            {"text": self._t("no"), "callback_data": f"pb:no:{token}"}]]}
        future: asyncio.Future[tuple[bool, str]] = asyncio.get_running_loop().create_future()
        self._asks[token] = future
        try:
            try:
                sent = await self.api.call("sendMessage", {
                    "chat_id": self.api.cfg.chat_id, "text": text, "reply_markup": markup},
                    10.0)
            except DeliveryError as e:
                return False, "unavailable", f"confirmation not sent: {e}"
            try:
                yes, who = await asyncio.wait_for(asyncio.shield(future), timeout)
            except TimeoutError:
                with contextlib.suppress(DeliveryError, TypeError, KeyError):
                    await self.api.call("editMessageText", {
                        "chat_id": self.api.cfg.chat_id, "message_id": sent["message_id"],
                        "text": f"{text}\n\n{self._t('confirm_timeout')}"}, 10.0)
                return False, "confirm_timeout", f"no answer within {timeout:g}s"
        finally:
            self._asks.pop(token, None)
        if yes:
            return True, "", f"confirmed by {who} via telegram:{self.name}"
        return False, "declined", f"declined by {who} via telegram:{self.name}"

    async def _answer_confirm(self, qid: str, data: str, chat_id: str, user_id: str,
                              who: str, msg: Any) -> None:
        _, answer, token = [*data.split(":", 2), "", ""][:3]
        if answer not in ("yes", "no"):
            raise _Malformed(f"unknown button {data[:64]!r}")
        if not self._allowed(chat_id, user_id):
            await self._refuse(chat_id, user_id, who, "playbook", callback=qid)
            return
        future = self._asks.get(token)
        if future is None or future.done():  # answered already, timed out, or restarted
            self.alerting.count_oncall("command", self.name, "playbook", "invalid")
            await self.api.call("answerCallbackQuery", {
                "callback_query_id": qid, "text": self._t("confirm_gone")}, 10.0)
            return
        future.set_result((answer == "yes", f"{who} ({user_id})"))
        self.alerting.count_oncall("command", self.name, "playbook", "ok")
        reply = self._t("confirm_yes" if answer == "yes" else "confirm_no", by=who)
        await self.api.call("answerCallbackQuery", {"callback_query_id": qid,
                                                    "text": reply}, 10.0)
        if isinstance(msg, dict) and isinstance(msg.get("message_id"), int):
            await self.api.call("editMessageText", {
                "chat_id": chat_id, "message_id": msg["message_id"],
                "text": f"{msg.get('text', '')}\n\n{reply}"[:4096]}, 10.0)

    async def _refuse(self, chat_id: str, user_id: str, who: str, what: str,
                      callback: str | None = None) -> None:
        self.alerting.count_oncall("refused", self.name)
        log.warning("telegram bot %s: refused %s from user %s (%s) in chat %s: not in "
                    "allowed_user_ids/allowed_chat_ids", self.name, what, user_id, who, chat_id)
        if callback is not None:
            await self.api.call("answerCallbackQuery", {
                "callback_query_id": callback, "text": self._t("refused"),
                "show_alert": True}, 10.0)
        elif chat_id:
            await self._say(chat_id, self._t("refused"))

    async def _say(self, chat_id: str, text: str) -> None:
        await self.api.call("sendMessage", {"chat_id": chat_id, "text": text[:4096],
                                            "disable_web_page_preview": True}, 10.0)

    def _t(self, key: str, **values: Any) -> str:
        return TEXTS[self.lang][key].format(**values)

    # -- acting -------------------------------------------------------------------------
    async def _run(self, cmd: Command, who: str, user_id: str) -> str:
        try:
            reply, result = await self._act(cmd, who, user_id)
        except Exception as e:  # a command must never take the bot down
            log.exception("telegram bot %s: %s failed", self.name, cmd.name)
            self.alerting.count_oncall("command", self.name, cmd.name, "error")
            return self._t("error", error=type(e).__name__)
        self.alerting.count_oncall("command", self.name, cmd.name, result)
        log.info("telegram bot %s: %s %s by %s (%s): %s", self.name, cmd.name, cmd.check,
                 who, user_id, result)
        return reply

    async def _act(self, cmd: Command, who: str, user_id: str) -> tuple[str, str]:
        al = self.alerting
        zone = al.zone
        if cmd.name == "help":
            return self._t("help"), "ok"
        if cmd.name == "status":
            return self._status(), "ok"
        if cmd.name == "down":
            return self._down(), "ok"
        if cmd.name == "report":
            return await self._report(), "ok"
        if cmd.check not in al.checks:
            return self._t("unknown_check", check=cmd.check[:64]), "invalid"
        if cmd.name == "ack":
            result = await al.acknowledge(cmd.check, who, user_id, f"telegram:{self.name}")
            if result == "not_down":
                return self._t("ack_not_down", check=cmd.check), "invalid"
            a = al.acks[cmd.check]
            key = "ack_ok" if result == "ok" else "ack_already"
            return self._t(key, check=cmd.check, by=a["by_name"],
                           at=format_time(a["at"], zone, self.lang)), "ok"
        if cmd.name == "mute":
            reason = cmd.reason or self._t("mute_reason", by=who)
            until = await al.mute(cmd.check, cmd.seconds, f"{reason} ({who})"
                                  if cmd.reason else reason)
            return self._t("mute_ok", check=cmd.check, reason=reason,
                           until=format_time(until, zone, self.lang)), "ok"
        if cmd.name == "unmute":
            n = await al.unmute(cmd.check)
            key = "unmute_ok" if n else "unmute_none"
            return self._t(key, check=cmd.check, n=n), "ok"
        return self._t("unknown_command", cmd=cmd.name), "invalid"

    def _status(self) -> str:
        al = self.alerting
        counts = {"up": 0, "down": 0, "supp": 0, "unknown": 0}
        for name, st in al.machine.checks.items():
            if st.state == "down":
                counts["down" if al.machine.root_cause(name) == name else "supp"] += 1
            else:
                counts["up" if st.state == "up" else "unknown"] += 1
        head = self._t("status_head", site=al.site,
                       at=format_time(time.time(), al.zone, self.lang), **counts)
        return f"{head}\n\n{self._down()}"

    def _down(self) -> str:
        al = self.alerting
        now = time.time()
        lines = []
        for name, st in sorted(al.machine.checks.items(), key=lambda kv: kv[1].since):
            if st.state != "down":
                continue
            cause = al.machine.root_cause(name)
            ack = al.acks.get(name)
            lines.append(self._t(
                "down_line", check=name, since=format_time(st.since, al.zone, self.lang),
                cause=self._t("cause", cause=cause) if cause and cause != name else "",
                ack=self._t("acked", by=ack["by_name"]) if ack else "",
                muted=self._t("muted") if al.muted(name, now) else ""))
        return "\n".join(lines) if lines else self._t("down_none")

    async def _report(self) -> str:
        from agent.status.data import compute_month

        avail, _ = await asyncio.to_thread(compute_month, self.alerting.config, time.time())
        lines = [self._t("report_head", site=self.alerting.site)]
        for name in sorted(avail):
            a = avail[name]
            if a.ratio is None:
                continue
            ratio = _pct(a.ratio, self.lang)
            flag = "" if a.ratio >= a.target - 1e-12 else " ⚠"
            lines.append(self._t("report_line", check=name, ratio=ratio,
                                 target=_pct(a.target, self.lang), flag=flag))
        if len(lines) == 1:
            lines.append(self._t("report_none"))
        return "\n".join(lines)


class _Malformed(Exception):
    pass


def _pct(ratio: float, lang: str) -> str:
    text = f"{ratio * 100:.2f} %"
    return text.replace(".", ",") if lang == "id" else text


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:64]
