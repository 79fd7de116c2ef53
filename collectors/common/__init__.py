"""Helpers every part of pantau shares, one copy each with one set of rules.

Collectors are the bottom layer (collectors <- exporters <- agent), so what the exporters and
the agent also need lives here: host:port parsing (`hostport`), client TLS settings (`tls`),
retry with backoff and jitter (`retry`), time zones and human-readable durations
(`timefmt`), /proc parsers (`procfs`), threads for blocking calls (`threads`), stopping
background tasks (`tasks`) and lazy imports (`lazy`). The config vocabulary is
collectors/config.py. Import the module you need; this file loads nothing.
"""
