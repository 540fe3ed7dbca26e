"""Alembic migrations of the service store (run by :func:`assay.store.watch.open_event_store`)."""
