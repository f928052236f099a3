"""The conversation logic that knows no Telegram: the turn service (``service``: a question asked,
answered and stored; /retry, /stop, /reset; shutdown) and the port it answers through (``port``), the
prompt from history (``history``), the order of turns per conversation (``ordering``), the reply
being written in each (``replies``), which model a chat asks (``models``) and the budgets
(``budgets``). May import: ``bot.texts``, ``bot.config``, ``bot.state``, ``providers``."""
