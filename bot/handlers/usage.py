"""/usage: tokens and cost of the asker and of this chat, the budgets, and (for admins and owners) more."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot import texts
from bot.handlers.common import Deps, is_group, sender_id
from bot.state.storage import UsageTotals
from bot.turns.budgets import day_start, month_start


class UsageHandlers:
    """``/usage`` for everyone: their own tokens and cost today and this month (UTC), this chat's, and
    what is left of the budgets; in groups, admins also see the chat's top users this month; bot
    owners (``BOT_ADMIN_IDS``) also see the whole bot's totals per model this month."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def usage(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Reply with the usage report (plain text)."""
        message = update.effective_message
        if message is None:
            return
        store, budgets = self.deps.store, self.deps.budgets
        now = budgets.clock()
        today, month = day_start(now), month_start(now)
        user_id = sender_id(message)
        shown: list[UsageTotals] = []

        def line(template: str, day: UsageTotals, this_month: UsageTotals) -> str:
            shown.extend((day, this_month))
            return template.format(today=texts.totals_text(day), month=texts.totals_text(this_month))

        lines = [texts.USAGE_HEADER]
        if user_id is not None:
            lines.append(
                line(
                    texts.USAGE_YOU,
                    await store.usage_totals(today, user_id=user_id),
                    await store.usage_totals(month, user_id=user_id),
                )
            )
        chat_id = message.chat_id
        lines.append(
            line(
                texts.USAGE_CHAT,
                await store.usage_totals(today, chat_id=chat_id),
                await store.usage_totals(month, chat_id=chat_id),
            )
        )
        states = await budgets.states(user_id, chat_id)
        if states:
            lines.append(texts.USAGE_BUDGETS.format(budgets=texts.budgets_text(states)))
        admins = self.deps.admins
        if is_group(message) and await admins.can_change_settings(
            context.bot, message.chat, message.from_user, message.sender_chat
        ):
            lines.append("")
            lines.append(texts.USAGE_TOP)
            lines += self.rows(await store.top_users(chat_id, month), shown)
        if user_id is not None and user_id in self.deps.settings.bot_admin_ids:
            lines.append("")
            lines.append(texts.USAGE_BOT)
            lines += self.rows(await store.usage_by_model(month), shown)
        if any(t.estimated for t in shown):
            lines += ["", texts.USAGE_ESTIMATE]
        await message.reply_text("\n".join(lines), do_quote=is_group(message))

    @staticmethod
    def rows(totals: list[UsageTotals], shown: list[UsageTotals]) -> list[str]:
        """Numbered lines, one per row of the ledger's grouping (nothing yet: one line saying so)."""
        shown.extend(totals)
        if not totals:
            return [texts.totals_text(UsageTotals())]
        return [
            texts.USAGE_ROW.format(rank=i, label=row.label, totals=texts.totals_text(row))
            for i, row in enumerate(totals, start=1)
        ]
