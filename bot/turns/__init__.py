"""The conversation logic that knows no Telegram: the prompt from history (``history``), the order
of turns per conversation (``ordering``), the reply being written in each and shutdown
(``replies``), which model a chat asks (``models``) and the budgets (``budgets``). May import:
``bot.texts``, ``bot.config``, ``bot.state``, ``providers``."""
