"""What the bot stores: the SQLite conversation store and usage ledger (``storage``), the writes that
wait while another process locks it (``backlog``), and its backup (``backup``). May import:
``bot.texts``, ``bot.config``; no Telegram, no providers."""
