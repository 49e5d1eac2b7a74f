"""The intent/outcome log on `notifier.outcomes`: an intent before every side effect, an outcome
after it, so that a restart or a replay never writes to Okdesk or Telegram twice (`log`)."""
