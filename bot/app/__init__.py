"""The process around the bot: wiring everything from the settings and the polling lifecycle
(``wiring``), the provider chain from ``PROVIDERS`` (``chain``), logs, polling failures and the
container's health check. May import everything."""
