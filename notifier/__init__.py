"""The notifier: the Telegram side of the rating conversation and the write-back to Okdesk.

Pure decisions (what to send, which text, whether a step is done, whether a failure is
retryable) live in `decide`, `render` and `locale` (texts in `texts/`); the rest are thin shells
around Kafka, Telegram and Okdesk: `telegram/` (the bot, polling, pace, sender, press answers,
quiet hours, alerts, limits, invites), `okdesk/` (the client, write-back, issues from the bot, the
sweep), `outcomes/` (the intent/outcome log), `conversations/` (one router a conversation).
`service` wires them together; `okrate notifier` runs it.
"""
