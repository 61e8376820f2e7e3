"""Benchmarks: the receiver against a bare aiohttp handler, driven by wrk."""
