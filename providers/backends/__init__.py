"""One module per backend, each a provider with gpt4free's interface: ``openai`` (any
OpenAI-compatible API) and the seed providers ``opchatgpts``, ``aichat`` and ``chatgpt``. They are
re-exported by :mod:`providers`; they import only the framework modules of ``providers``."""
