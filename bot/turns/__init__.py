"""The conversation logic that knows no Telegram: the prompt from history (``history``), the order
of turns per conversation (``ordering``), which model a chat asks (``models``) and the budgets
(``budgets``). May import: ``bot.texts``, ``bot.config``, ``bot.state``, ``providers``."""
