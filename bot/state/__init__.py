"""What the bot stores, behind interfaces (``protocols``: history, chat settings, replies in progress,
the inbox of received messages, the usage ledger), with the implementation chosen at start-up
(``opening``): SQLite for one process (``storage``; the writes that wait while another process locks
it: ``backlog``; its backup: ``backup``) or PostgreSQL for replicas (``postgres``). Only this package
imports a database driver. May import: ``bot.texts``, ``bot.config``; no Telegram, no providers."""
