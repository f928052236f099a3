"""Loopback fakes of the Telegram Bot API and of each provider protocol."""
