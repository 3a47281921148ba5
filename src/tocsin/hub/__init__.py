"""The regional hub: ingest sensors' batches, store them, raise sensor-blind alerts.

`ingest` turns a sensor's batch into `Row`s (`rows`), a `Store` (SQLite or PostgreSQL, same
schema, versioned migrations) keeps them once each, `app` serves the HTTPS API, `blind` watches
sensors' heartbeats, `bus` carries accepted batches over NATS JetStream to `tocsin hub worker`s.
"""
