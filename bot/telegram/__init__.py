"""Adapters to python-telegram-bot: the tolerant bot (``tolerant``), pacing and the rate limiter
every request passes (``pacing``, ``ratelimit``), the streaming reply and its rendering
(``streaming``, ``rendering``), keyboards, media and access checks. May import: ``bot.texts``,
``bot.config``, ``bot.state``, ``bot.turns``, ``providers``, ``telegram``."""
