"""PostgreSQL access: models, engine/session, and the query functions API, CLI and workers share."""
