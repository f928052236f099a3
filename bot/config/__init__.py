"""Configuration: the one settings object (``settings``) and the files an operator provides
(``prices``, ``prompts`` presets, read through ``operator_files``). May import: ``bot.texts``,
``providers``."""
