"""The notifier: the Telegram side of the rating conversation and the write-back to Okdesk.

Pure decisions (what to send, which text, whether a step is done, whether a failure is
retryable) live in `decide`, `render` and `locale`; the rest are thin shells around Kafka,
Telegram and Okdesk. `service` wires them together; `okrate notifier` runs it.
"""
