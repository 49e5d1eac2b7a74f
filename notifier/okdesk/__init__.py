"""The Okdesk side of the notifier: the REST API client, the rating written back (comment and rate),
issues created from the bot, and the sweep that finds resolutions whose webhook never came."""
