"""The configuration reference (docs/configuration.md), generated from the pydantic models.

Hand-written reference pages drift the day a field is added; this one is rebuilt from the same
models that validate the file, and a test fails when the committed page is stale.
Regenerate with: `pantau config-reference > docs/configuration.md`.
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

INTRO = """# Configuration reference

Generated from the config models by `pantau config-reference`; a test fails when this page and
the code disagree. The file is YAML; unknown keys are errors (a typo is never silently ignored).
`pantau check-config FILE` prints every error with its field path and line number.

Conventions:
- Durations: `500ms`, `15s`, `1m`, `1h`, `1d` or a number of seconds.
- Secrets (passwords, tokens, communities): write `${ENV_NAME}` to read an environment variable,
  or use the matching `*_file` field to read it from a file. Secrets are never logged, never put
  in labels or URLs, and `--print-config` shows them masked.
- Every series carries the label `site`; series of a check carry `check` and the check's `labels`.
"""


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        meta = args[1:]
        base = args[0]
        if any(getattr(m, "func", None) is not None and "duration" in
               getattr(m.func, "__name__", "") for m in meta):
            return "duration"
        return _type_name(base)
    if tp is SecretStr:
        return "secret"
    if origin in (typing.Union, types.UnionType):
        parts = [_type_name(a) for a in args if a is not type(None)]
        name = " or ".join(dict.fromkeys(parts))
        return name + (" (optional)" if type(None) in args else "")
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (list, tuple, set, frozenset):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"map of {_type_name(args[1])}" if len(args) == 2 else "map"
    if inspect.isclass(tp) and issubclass(tp, BaseModel):
        return tp.__name__
    return getattr(tp, "__name__", str(tp))


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        try:
            value = field.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "-"
        if isinstance(value, BaseModel):
            return "(section defaults)"
        return f"`{value!r}`" if value not in ({}, [], None) else "empty"
    if field.default is PydanticUndefined or field.default is None:
        return "none"
    if isinstance(field.default, float):
        from collectors.config import format_duration

        return f"`{field.default:g}`" + (f" ({format_duration(field.default)})"
                                         if field.default >= 0.001 else "")
    return f"`{field.default}`"


def _nested_models(tp: Any) -> list[type[BaseModel]]:
    out: list[type[BaseModel]] = []
    if inspect.isclass(tp) and issubclass(tp, BaseModel):
        return [tp]
    for a in typing.get_args(tp):
        out.extend(_nested_models(a))
    return out


def model_table(
    model: type[BaseModel],
    title: str,
    seen: set[type[BaseModel]],
    skip: frozenset[str] = frozenset(),
) -> list[str]:
    """A section for `model` and, after it, one for each nested model not documented yet."""
    seen.add(model)
    doc = inspect.cleandoc(model.__dict__.get("__doc__") or "")
    lines = [f"## {title}", "", *( [doc, ""] if doc else [] ),
             "| field | type | default | description |", "| --- | --- | --- | --- |"]
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        desc = (field.description or "").replace("\n", " ").replace("|", "\\|")
        lines.append(f"| `{field.alias or name}` | {_type_name(field.annotation)} | "
                     f"{_default(field)} | {desc} |")
        for sub in _nested_models(field.annotation):
            if sub not in seen and sub.__module__.split(".")[0] in {"agent", "collectors",
                                                                      "exporters", "playbooks"}:
                nested.append((f"{title}.{name}", sub))
    lines.append("")
    for sub_title, sub in nested:
        if sub not in seen:
            lines.extend(model_table(sub, f"{sub_title} ({sub.__name__})", seen))
    return lines


def render_reference() -> str:
    from agent.config.models import AgentConfig
    from collectors import CHECK_TYPES, REGISTRY
    from collectors.config import CheckConfig

    seen: set[type[BaseModel]] = {CheckConfig}
    parts = [INTRO, ""]
    parts.extend(model_table(AgentConfig, "Top level", seen))
    seen.discard(CheckConfig)
    parts.extend(model_table(CheckConfig, "Fields every check has (checks[])", seen))
    for t in CHECK_TYPES:
        model = REGISTRY[t].Config
        if model in seen:
            continue
        common = frozenset(CheckConfig.model_fields) - {"type"}
        parts.extend(model_table(model, f"checks[] with type: {t}", seen, common))
    return "\n".join(parts).rstrip() + "\n"
