"""The agent's configuration: the top-level model (models), loading with field paths and
line numbers (loader), the embedded default discovered from this host (discovery) and the
reference document generated from the models (reference)."""

from agent.config.loader import ConfigError, ConfigIssue, dump_config, load_config, parse_config
from agent.config.models import AgentConfig, default_site, parse_listen

__all__ = ["AgentConfig", "ConfigError", "ConfigIssue", "default_site", "dump_config",
           "load_config", "parse_config", "parse_listen"]
