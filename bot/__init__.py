"""The Telegram side: settings, storage, handlers, streaming, rendering."""
