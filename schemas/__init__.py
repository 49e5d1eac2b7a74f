"""okrate's event contract: Avro schemas (`avro/`), typed records (`records`), the single-object
codec (`codec`), the dead-letter helper (`deadletter`), message keys (`keys`) and the topic
catalogue (`topics`; `base.topic_admin` creates them). See `schemas/README.md`."""
