"""What every okrate service stands on, and nothing more: settings, Kafka clients (the asyncio
publisher among them), logging, redaction, durations, deployment names, topic reading and
administration, the contact-links and export records. It imports only `schemas/` (the contract)
and libraries; the services and the CLI import it, never the other way round (README, "The house")."""
