"""Per-chat choices: /model, /provider, /settings and their inline keyboards."""

from __future__ import annotations

import logging
from dataclasses import replace

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.ext import ContextTypes

from bot import texts
from bot.config.prompts import describe_prompt
from bot.handlers.common import (
    Deps,
    command_with_settings,
    confirm_choice,
    conversation_key,
    is_group,
    refused_unless_admin,
    sender_id,
)
from bot.handlers.language import describe_language
from bot.handlers.reasoning import describe_reasoning
from bot.state.storage import ChatSettings
from bot.telegram.keyboards import AUTO, MODELS_PER_PAGE, model_keyboard, model_token, page_count, provider_keyboard
from bot.turns.models import ModelEntry
from providers import BaseProvider
from providers.tokens import answer_reserve

logger = logging.getLogger("bot.handlers")


class ChoiceHandlers:
    """/model, /provider and /settings. Changes are for chat admins in groups."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.catalog = deps.catalog

    # -- what can be chosen ---------------------------------------------------------------------

    def provider_status(self, provider: BaseProvider) -> str:
        """The provider's button label: its name, and "(not working)" or "(cooling down Ns)"."""
        if not provider.working:
            return texts.say("PROVIDER_NOT_WORKING", name=provider.name)
        remaining = self.deps.chain.health.cooldown_remaining(provider.name)
        if remaining > 0:
            return texts.say("PROVIDER_COOLING", name=provider.name, seconds=f"{remaining:.0f}")
        return provider.name

    def provider_choices(self) -> list[tuple[str, str]]:
        """``(name, label)`` pairs for the /provider keyboard: ``auto`` first, then the chain in order."""
        names = " → ".join(p.name for p in self.deps.chain.providers)
        auto = texts.say("AUTO_CHAIN", names=names)
        return [(AUTO, auto)] + [(p.name, self.provider_status(p)) for p in self.deps.chain.providers]

    async def current_model(self, choice: ChatSettings) -> str:
        """The chat's model as /model and /settings show it."""
        if choice.model:
            return choice.model
        default = await self.catalog.default(choice)
        return texts.say("MODEL_DEFAULT", model=default) if default else texts.MODEL_PROVIDER_DEFAULT

    async def model_page(
        self, chat_id: int, choice: ChatSettings, entries: list[ModelEntry], page: int | None
    ) -> tuple[str, InlineKeyboardMarkup]:
        """The /model message text and keyboard showing ``page`` of ``entries`` (None: the page of the
        current model). In Auto mode with several providers, each button names its provider.
        """
        labelled = len({entry.provider for entry in entries}) > 1
        buttons = [(e.model, f"{e.model} · {e.provider}" if labelled else e.model) for e in entries]
        if page is None:
            index = next((i for i, e in enumerate(entries) if e.model == choice.model), 0)
            page = index // MODELS_PER_PAGE
        page = min(max(page, 0), page_count(len(entries)) - 1)
        text = texts.CHOOSE_MODEL.format(current=await self.current_model(choice))
        if len(entries) > MODELS_PER_PAGE:
            shown = entries[page * MODELS_PER_PAGE : (page + 1) * MODELS_PER_PAGE]
            text += "\n" + texts.MODEL_PAGE.format(
                first=page * MODELS_PER_PAGE + 1,
                last=page * MODELS_PER_PAGE + len(shown),
                total=len(entries),
                providers=", ".join(dict.fromkeys(e.provider for e in shown)),
            )
        return text, model_keyboard(chat_id, buttons, choice.model, page)

    # -- commands -------------------------------------------------------------------------------

    async def model(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/model shows a keyboard of models (paged); /model NAME sets one; /model default goes back."""
        command = await command_with_settings(self.deps, update)
        if command is None:
            return
        message, choice, wanted = command
        if not wanted:
            entries = await self.catalog.entries(choice)
            if not entries:
                current = await self.current_model(choice)
                await message.reply_text(texts.NO_MODEL_LIST.format(current=current))
                return
            text, keyboard = await self.model_page(message.chat_id, choice, entries, None)
            await message.reply_text(text, reply_markup=keyboard, do_quote=is_group(message))
            return
        if await refused_unless_admin(self.deps, update, context.bot):
            return
        if wanted.lower() == "default":
            said = await self.set_model(message.chat_id, None)
            await message.reply_text(said, do_quote=is_group(message))
            return
        lookup = await self.catalog.lookup(choice, wanted)
        if not lookup.usable and choice.provider is not None:
            elsewhere = await self.catalog.lookup(replace(choice, provider=None), wanted)
            if elsewhere.offered_by:
                said = texts.MODEL_ELSEWHERE.format(
                    name=wanted, providers=", ".join(elsewhere.offered_by), pinned=choice.provider
                )
                await message.reply_text(said, do_quote=is_group(message))
                return
        if not lookup.usable:
            said = texts.UNKNOWN_MODEL.format(name=wanted)
            close = await self.catalog.suggestions(choice, wanted)
            said += texts.UNKNOWN_MODEL_SUGGEST.format(models=", ".join(close)) if close else texts.UNKNOWN_MODEL_HINT
            await message.reply_text(said)
            return
        said = await self.set_model(message.chat_id, wanted)
        if not lookup.offered_by:
            said += texts.MODEL_UNLISTED.format(providers=", ".join(lookup.unknown_to))
        await message.reply_text(said, do_quote=is_group(message))

    async def set_model(self, chat_id: int, model: str | None) -> str:
        """Store the chat's model (None: back to the default); returns the confirmation."""
        choice = await self.deps.store.chat_settings(chat_id)
        await self.deps.store.save_chat_settings(chat_id, replace(choice, model=model))
        logger.info("chat=%s model set to %s", chat_id, model or "default")
        if model is None:
            return texts.MODEL_DEFAULT_SET.format(model=await self.catalog.default(choice) or "provider default")
        return texts.MODEL_SET.format(model=model)

    async def provider(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/provider shows Auto and each provider with its status; /provider NAME pins one."""
        command = await command_with_settings(self.deps, update)
        if command is None:
            return
        message, choice, wanted = command
        wanted = wanted.lower()
        if not wanted:
            await message.reply_text(
                texts.CHOOSE_PROVIDER.format(current=choice.provider or texts.AUTO),
                reply_markup=provider_keyboard(message.chat_id, self.provider_choices(), choice.provider),
                do_quote=is_group(message),
            )
            return
        if await refused_unless_admin(self.deps, update, context.bot):
            return
        names = [name for name, _ in self.provider_choices()]
        if wanted not in names:
            await message.reply_text(texts.UNKNOWN_PROVIDER.format(name=wanted, providers=", ".join(names)))
            return
        await message.reply_text(await self.set_provider(message.chat_id, wanted), do_quote=is_group(message))

    async def set_provider(self, chat_id: int, name: str) -> str:
        """Pin ``name`` (or ``auto``) for the chat; returns the confirmation.

        When the new provider(s) do not offer the chat's model (its own choice, or
        ``DEFAULT_MODEL``), the chat goes over to their default model and the confirmation says so.
        """
        choice = await self.deps.store.chat_settings(chat_id)
        provider = None if name == AUTO else name
        pinned = ChatSettings(provider, None)
        model = choice.model
        before = choice.model or self.catalog.default_model
        if model and not (await self.catalog.lookup(pinned, model)).usable:
            model = None
        await self.deps.store.save_chat_settings(chat_id, replace(choice, provider=provider, model=model))
        logger.info("chat=%s provider set to %s", chat_id, name)
        said = texts.PROVIDER_SET.format(provider=texts.AUTO if provider is None else provider)
        after = await self.catalog.requested(ChatSettings(provider, model))
        if before and after != before:
            new = await self.catalog.default(pinned) or texts.PROVIDER_DEFAULT_MODEL
            said += texts.MODEL_RESET.format(provider=provider or texts.THE_CHAIN, old=before, new=new)
        return said

    async def show(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/settings: provider, model, stream mode and history length of this conversation."""
        message = update.effective_message
        if message is None:
            return
        settings = self.deps.settings
        choice = await self.deps.store.chat_settings(message.chat_id)
        key = conversation_key(message)
        stored = await self.deps.store.count(await self.deps.turns.history_key(key))
        if is_group(message):
            mode = texts.say("MODE_GROUP", rate=f"{settings.group_messages_per_minute:g}")
        elif settings.stream_mode == "draft":
            mode = texts.say("MODE_DRAFT", interval=f"{settings.private_edit_interval:g}")
        else:
            mode = texts.say("MODE_EDITS", interval=f"{settings.private_edit_interval:g}")
        chain = " → ".join(p.name for p in self.deps.chain.providers)
        provider = choice.provider or texts.say("AUTO_CHAIN", names=chain)
        window = await self.catalog.context_window(choice, settings.context_tokens)
        user_id = sender_id(message)
        await message.reply_text(
            texts.SETTINGS.format(
                provider=provider,
                model=await self.current_model(choice),
                mode=mode,
                language=describe_language(choice, is_group(message), settings.default_language),
                reasoning=describe_reasoning(choice, settings.reasoning_max_chars),
                prompt=describe_prompt(self.deps.presets, choice.system_prompt),
                stored=texts.plural(stored, "message"),
                max_messages=texts.plural(settings.history_max_messages, "message"),
                max_tokens=texts.plural(settings.history_max_tokens, "token"),
                window=texts.tokens_text(window.tokens),
                window_source=texts.say("WINDOW_FROM", source=window.source) if window.source else texts.WINDOW_DEFAULT,
                reserve=texts.tokens_text(answer_reserve(window.tokens, settings.answer_reserve_tokens)),
                budgets=texts.budgets_text(await self.deps.budgets.states(user_id, message.chat_id)),
                chat_id=message.chat_id,
                user_id=user_id if user_id is not None else "-",
            ),
            do_quote=is_group(message),
        )

    # -- buttons --------------------------------------------------------------------------------

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE, kind: str, value: str) -> None:
        """A model, page, default or provider button (callback data already checked for this chat).

        Turning pages is for everyone; choosing is for admins in groups.
        """
        query = update.callback_query
        assert query is not None and query.message is not None
        chat = query.message.chat
        if kind == "g":
            await self.turn_page(query, chat.id, value)
            return
        if await refused_unless_admin(self.deps, update, context.bot):
            return
        if kind == "m":
            choice = await self.deps.store.chat_settings(chat.id)
            model = next((e.model for e in await self.catalog.entries(choice) if model_token(e.model) == value), None)
            if model is None:
                await query.answer(texts.STALE_BUTTON, show_alert=True)
                return
            said = await self.set_model(chat.id, model)
        elif kind == "d":
            said = await self.set_model(chat.id, None)
        else:
            if value not in [name for name, _ in self.provider_choices()]:
                await query.answer(texts.STALE_BUTTON, show_alert=True)
                return
            said = await self.set_provider(chat.id, value)
        await confirm_choice(query, said)

    async def turn_page(self, query: CallbackQuery, chat_id: int, value: str) -> None:
        """Show another page of the /model keyboard (a page past the end shows the last one)."""
        try:
            page = int(value)
        except ValueError:
            await query.answer(texts.STALE_BUTTON, show_alert=True)
            return
        choice = await self.deps.store.chat_settings(chat_id)
        entries = await self.catalog.entries(choice)
        if not entries:
            await query.answer(texts.STALE_BUTTON, show_alert=True)
            return
        text, keyboard = await self.model_page(chat_id, choice, entries, page)
        await query.answer()
        message = query.message
        if isinstance(message, Message) and message.text == text and message.reply_markup == keyboard:
            return  # the page shown already (its own number was pressed): nothing to edit
        await query.edit_message_text(text, reply_markup=keyboard)
