"""The Telegram side of the bot, in packages that each have one job. Data flows one way: an update
comes in (``app``: polling) -> ``handlers`` parse it and check access -> the conversation logic
(``turns``) with the chain of ``providers`` -> the reply streams into Telegram (``telegram``) ->
state is written (``state``). A package imports only those before it in this order (a test holds
it): ``texts``, ``config``, ``state``, ``turns``, ``telegram``, ``handlers``, ``app``."""
