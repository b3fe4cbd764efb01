"""DataTracing pipeline: tail sampler and sink (Faust), trace store, query service, CLI.

Follow a span through the folders in order: `broker` (topics) → `sampler` → `sink` → `store` →
`query`. `cli` ties them to the `datatracing` command.
"""
