"""Loading a config file: YAML to AgentConfig, every problem reported with its field path
and the line it is on, ready to print; and the effective config dumped back as YAML."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from agent.config.models import AgentConfig
from collectors.common import yamlsafe


@dataclass(frozen=True)
class ConfigIssue:
    path: str  # dotted field path, e.g. checks[2].timeout
    line: int | None  # 1-based line in the file
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.path}: {self.message}" if self.path else f"{where}{self.message}"


class ConfigError(Exception):
    """Raised with every problem found in a config file; str() is ready to print."""

    def __init__(self, source: str, issues: list[ConfigIssue]) -> None:
        self.source = source
        self.issues = issues
        super().__init__(self.render())

    def render(self) -> str:
        head = f"{self.source}: {len(self.issues)} error(s)"
        return "\n".join([head, *(f"  {i}" for i in self.issues)])


def _format_loc(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _node_line(root: yaml.Node | None, loc: tuple[str | int, ...]) -> int | None:
    """Follow `loc` through the composed YAML tree; the deepest node found gives the line."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == part:
                    line = key.start_mark.line + 1
                    node = value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                return line
        else:
            return line
    return line


def _clean_msg(msg: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix):]
    return msg


def _loc_without_unions(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    # pydantic adds model names for unions/function validators into loc; drop those
    return tuple(p for p in loc if isinstance(p, int) or not p[:1].isupper())


def parse_config(text: str, source: str = "<config>") -> AgentConfig:
    """Parse YAML text into an AgentConfig or raise ConfigError listing every problem."""
    try:
        root, data = yamlsafe.compose_and_load(text)
    except RecursionError:  # a limit above should make this unreachable; never a traceback
        raise ConfigError(source, [ConfigIssue("", None, "invalid YAML: nested too deeply")]
                          ) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(source, [ConfigIssue("", line, f"invalid YAML: {problem}")]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, [ConfigIssue("", 1, "the top level must be a mapping of keys")])
    try:
        cfg = AgentConfig.model_validate(data)
    except ValidationError as e:
        issues = []
        for err in e.errors():
            loc = _loc_without_unions(tuple(err["loc"]))
            ctx_err = (err.get("ctx") or {}).get("error")
            err_loc = getattr(ctx_err, "loc", None)
            if isinstance(err_loc, tuple):
                loc = err_loc
            msg = _clean_msg(err["msg"])
            if err["type"] == "extra_forbidden":
                msg = "unknown field (check the spelling; see docs/configuration.md)"
            elif err["type"] == "missing":
                msg = "required field is missing"
            issues.append(ConfigIssue(_format_loc(loc), _node_line(root, loc), msg))
        raise ConfigError(source, issues) from None
    except ValueError as e:  # a section builder raising outside pydantic's validation
        raise ConfigError(source, [ConfigIssue("", None, str(e))]) from None
    issues = _startup_issues(cfg, root)
    if issues:
        raise ConfigError(source, issues)
    return cfg


def _startup_issues(cfg: AgentConfig, root: yaml.Node | None) -> list[ConfigIssue]:
    """What the agent would refuse at start beyond the model: check-config, `run` and a
    reload read the same files here, so check-config finds every error `run` would hit."""
    from exporters.webconfig import load_web_config

    issues = []
    if cfg.web_config_file is not None:
        try:
            load_web_config(cfg.web_config_file)
        except ValueError as e:
            issues.append(ConfigIssue("web_config_file", _node_line(root, ("web_config_file",)),
                                      str(e)))
    return issues


def load_config(path: Path) -> AgentConfig:
    try:
        # read one byte past the limit rather than all of a 50 MB file
        with path.open("rb") as f:
            raw = f.read(yamlsafe.MAX_BYTES + 1)
            size = max(len(raw), os.fstat(f.fileno()).st_size)
        reason = yamlsafe.too_big(size)
        if reason:
            raise ConfigError(str(path), [ConfigIssue("", None, reason)])
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), [ConfigIssue("", None, "file not found")]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(str(path), [ConfigIssue("", None, f"cannot read: {e}")]) from None
    return parse_config(text, str(path))


def dump_config(cfg: BaseModel) -> str:
    """The effective config as YAML a user can save and edit (secrets stay masked)."""
    data = cfg.model_dump(mode="json", exclude_none=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
