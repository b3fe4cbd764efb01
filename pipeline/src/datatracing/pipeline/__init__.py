"""DataTracing pipeline: ingest gateway, tail sampler and sink (Faust), trace store, query service, CLI.

Follow a span through the folders in order: `ingest` (OTLP/HTTP in) → `broker` (topics) → `sampler` →
`sink` → `store` → `query`; `runtime` runs them as processes and `cli` ties them to the `datatracing`
command. Each package imports only the packages below it: docs/architecture.md has the table, and
tests/test_architecture.py enforces it.
"""
