"""Local stand-ins for the Telegram Bot API and the Okdesk API that speak their real HTTP
protocols and enforce their real rules, for tests and for sandbox mode.

Telegram: ``telegram_api`` (the aiohttp app, ``running_telegram``, ``serve_telegram``),
``telegram_state`` (``TelegramState``: chats, transcripts, calls, faults, limits) and
``telegram_user`` (``SandboxUser``: pressing buttons, writing, sharing a contact).

Okdesk: ``okdesk_api`` (the aiohttp app, ``running_okdesk``, ``serve_okdesk``),
``okdesk_state`` (``OkdeskState``: seeding, issues, comments, rates, ``change_status``) and
``webhooks`` (pure builders of both webhook dialects, ``sign_body``, ``send_webhook``).
"""
