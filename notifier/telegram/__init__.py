"""The Telegram side of the notifier: the bot, long polling, Telegram's pace, the sender (once per step), what a
message looks like, the press's answer, quiet hours, alerts to the team, the views of `bot.state`
and `contact.links`, per-user limits, phones and link invites. The conversations that use both
sides live in `notifier/conversations/`; the texts, in `notifier/texts/`."""
