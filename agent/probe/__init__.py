"""Blackbox-style /probe: the configured modules with their allow-lists (config) and the
request handler the HTTP server calls (endpoint)."""

from agent.probe.config import ProbeModule
from agent.probe.endpoint import ProbeHandler, make_handler

__all__ = ["ProbeHandler", "ProbeModule", "make_handler"]
