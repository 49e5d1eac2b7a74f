"""Statistics, as pure folds (no Kafka in sight).

Two steps, each where its key lives:

1. `facts` (keyed by issue id, beside the decision topics): which *facts* a decision event
   establishes about its issue (a request sent, delivered, rated, a reaction time...), each once,
   however often the event or its duplicates are redelivered, and which dimensions each counts in
   (`dimensions`). The result is one `Effect` per dimension, tagged with the source position.
2. `fold` (keyed by dimension, after the repartition): adds effects into a dimension's state,
   skipping any source position already folded; `snapshot` turns the state into the public
   `StatsSnapshot`.
"""
