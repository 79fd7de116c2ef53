"""Helpers every part of pantau shares, one copy each with one set of rules.

Collectors are the bottom layer (collectors <- exporters <- agent), so what the exporters and
the agent also need lives here: the config vocabulary (`vocabulary`), host:port parsing
(`hostport`), client TLS settings (`tls`), retry with backoff and jitter (`retry`), time zones
and human-readable durations (`timefmt`), /proc parsers (`procfs`), blocking-call threads
(`threads`) and lazy imports (`lazy`). Import the module you need; this file loads nothing.
"""
