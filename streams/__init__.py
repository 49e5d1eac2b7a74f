"""The streams worker. At this level the Faust plumbing: the app (`app`), put together with its
agents (`assembly`), the worker (`worker`), the ordered consumer, the outputs' producer, the links
copy, the table-state codec, metrics, the web binding. The pure rules are in `rules/`, the pure
statistics in `stats/`, the agents (thin shells around the rules) in `agents/`, the views in `web/`."""
