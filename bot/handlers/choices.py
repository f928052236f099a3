"""Per-chat choices: /model, /provider, /settings and their inline keyboards."""

from __future__ import annotations

import logging

from telegram import Chat, Message, Update, User
from telegram.ext import ContextTypes

from providers import BaseProvider, ProviderModelMixin

from .. import texts
from ..keyboards import AUTO, model_keyboard, model_token, provider_keyboard
from ..storage import ChatSettings
from .common import Deps, command_argument, conversation_key, is_group

logger = logging.getLogger("bot.handlers")


class ChoiceHandlers:
    """/model, /provider and /settings. Changes are for chat admins in groups."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    # -- what can be chosen ---------------------------------------------------------------------

    def providers(self, choice: ChatSettings) -> list[BaseProvider]:
        """The providers answering this chat: the pinned one, or the whole chain."""
        return self.deps.chain_for(choice.provider).providers

    async def models(self, choice: ChatSettings) -> list[str]:
        """Models offered by the chat's provider(s), in chain order, without duplicates."""
        names: list[str] = []
        for provider in self.providers(choice):
            if isinstance(provider, ProviderModelMixin):
                for model in await provider.list_models():
                    if model not in names:
                        names.append(model)
        return names

    async def default_model(self, choice: ChatSettings) -> str:
        """The model used when the chat chose none: ``DEFAULT_MODEL``, else the first provider's default."""
        if self.deps.settings.default_model:
            return self.deps.settings.default_model
        first = self.providers(choice)[0]
        if not isinstance(first, ProviderModelMixin):
            return ""
        if first.default_model:
            return first.default_model
        listed = await first.list_models()
        return listed[0] if listed else ""

    def provider_status(self, provider: BaseProvider) -> str:
        """The provider's button label: its name, and "(not working)" or "(cooling down Ns)"."""
        if not provider.working:
            return f"{provider.name} (not working)"
        remaining = self.deps.chain.health.cooldown_remaining(provider.name)
        if remaining > 0:
            return f"{provider.name} (cooling down {remaining:.0f}s)"
        return provider.name

    def provider_choices(self) -> list[tuple[str, str]]:
        """``(name, label)`` pairs for the /provider keyboard: ``auto`` first, then the chain in order."""
        names = " → ".join(p.name for p in self.deps.chain.providers)
        return [(AUTO, f"Auto ({names})")] + [(p.name, self.provider_status(p)) for p in self.deps.chain.providers]

    async def _may_change(
        self, context: ContextTypes.DEFAULT_TYPE, chat: Chat, user: User | None, message: Message | None
    ) -> bool:
        sender_chat = message.sender_chat if message is not None else None
        return await self.deps.admins.can_change_settings(context.bot, chat, user, sender_chat)

    # -- commands -------------------------------------------------------------------------------

    async def model(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/model shows a keyboard of models; /model NAME sets one."""
        message = update.effective_message
        if message is None:
            return
        choice = await self.deps.store.chat_settings(message.chat_id)
        models = await self.models(choice)
        wanted = command_argument(message)
        current = choice.model or await self.default_model(choice)
        if not wanted:
            if not models:
                await message.reply_text(texts.NO_MODEL_LIST.format(current=current or "provider default"))
                return
            await message.reply_text(
                texts.CHOOSE_MODEL.format(current=current),
                reply_markup=model_keyboard(message.chat_id, models, current),
                do_quote=is_group(message),
            )
            return
        if not await self._may_change(context, message.chat, message.from_user, message):
            await message.reply_text(texts.ADMINS_ONLY)
            return
        if models and wanted not in models:
            await message.reply_text(texts.UNKNOWN_MODEL.format(name=wanted, models=", ".join(models)))
            return
        await self.deps.store.save_chat_settings(message.chat_id, ChatSettings(choice.provider, wanted))
        logger.info("chat=%s model set to %s", message.chat_id, wanted)
        await message.reply_text(texts.MODEL_SET.format(model=wanted), do_quote=is_group(message))

    async def provider(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/provider shows Auto and each provider with its status; /provider NAME pins one."""
        message = update.effective_message
        if message is None:
            return
        choice = await self.deps.store.chat_settings(message.chat_id)
        wanted = command_argument(message).lower()
        if not wanted:
            await message.reply_text(
                texts.CHOOSE_PROVIDER.format(current=choice.provider or "Auto"),
                reply_markup=provider_keyboard(message.chat_id, self.provider_choices(), choice.provider),
                do_quote=is_group(message),
            )
            return
        if not await self._may_change(context, message.chat, message.from_user, message):
            await message.reply_text(texts.ADMINS_ONLY)
            return
        names = [name for name, _ in self.provider_choices()]
        if wanted not in names:
            await message.reply_text(texts.UNKNOWN_PROVIDER.format(name=wanted, providers=", ".join(names)))
            return
        await message.reply_text(await self.set_provider(message.chat_id, wanted), do_quote=is_group(message))

    async def set_provider(self, chat_id: int, name: str) -> str:
        """Pin ``name`` (or ``auto``) for the chat; the model is reset if the new provider lacks it."""
        choice = await self.deps.store.chat_settings(chat_id)
        provider = None if name == AUTO else name
        model = choice.model
        if model and model not in await self.models(ChatSettings(provider, None)):
            model = None
        await self.deps.store.save_chat_settings(chat_id, ChatSettings(provider, model))
        logger.info("chat=%s provider set to %s", chat_id, name)
        said = texts.PROVIDER_SET.format(provider="Auto" if provider is None else provider)
        return said + (texts.MODEL_RESET if choice.model and model is None else "")

    async def show(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/settings: provider, model, stream mode and history length of this conversation."""
        message = update.effective_message
        if message is None:
            return
        settings = self.deps.settings
        choice = await self.deps.store.chat_settings(message.chat_id)
        key = conversation_key(message)
        stored = await self.deps.store.count(key)
        if is_group(message):
            mode = f"the reply grows in one message, {settings.group_messages_per_minute:g} updates a minute here"
        elif settings.stream_mode == "draft":
            mode = f"an animated draft, updated every {settings.private_edit_interval:g}s, then the message"
        else:
            mode = f"the reply grows in one message, one edit every {settings.private_edit_interval:g}s"
        provider = choice.provider or "Auto (" + " → ".join(p.name for p in self.deps.chain.providers) + ")"
        model = choice.model or f"default ({await self.default_model(choice) or 'provider default'})"
        await message.reply_text(
            texts.SETTINGS.format(
                provider=provider,
                model=model,
                mode=mode,
                stored=stored,
                max_messages=settings.history_max_messages,
                max_chars=settings.history_max_chars,
            ),
            do_quote=is_group(message),
        )

    # -- buttons --------------------------------------------------------------------------------

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE, kind: str, value: str) -> None:
        """A model or provider button (callback data already checked for this chat)."""
        query = update.callback_query
        assert query is not None and query.message is not None
        chat = query.message.chat
        if not await self._may_change(context, chat, query.from_user, None):
            await query.answer(texts.ADMINS_ONLY_BUTTON, show_alert=True)
            return
        if kind == "m":
            choice = await self.deps.store.chat_settings(chat.id)
            model = next((m for m in await self.models(choice) if model_token(m) == value), None)
            if model is None:
                await query.answer(texts.STALE_BUTTON, show_alert=True)
                return
            await self.deps.store.save_chat_settings(chat.id, ChatSettings(choice.provider, model))
            logger.info("chat=%s model set to %s", chat.id, model)
            said = texts.MODEL_SET.format(model=model)
        else:
            if value not in [name for name, _ in self.provider_choices()]:
                await query.answer(texts.STALE_BUTTON, show_alert=True)
                return
            said = await self.set_provider(chat.id, value)
        await query.answer(said)
        await query.edit_message_text(said)
