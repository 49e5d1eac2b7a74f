"""The Telegram side of the notifier: the bot, long polling, Telegram's pace, the sender (once per
step), the press's answer, quiet hours, alerts to the team, the views of `bot.state` and
`contact.links`, per-user limits, phones and link invites.

What both sides share sits at the notifier's top: the decisions (`decide`), what a message looks
like (`render`), the texts (`locale`, `texts/`); the conversations, which use both sides, in
`notifier/conversations/`."""
