"""The streams worker's own web views (on `STATS_PORT`); Faust's built-in pages stay off."""
