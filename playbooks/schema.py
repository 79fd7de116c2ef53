"""Playbook files and their typed parameters.

A playbook is data, not code: YAML with typed parameters and steps whose `run` templates get
`{{ name }}` substituted. Every value is validated against its type *before* anything connects
(no shell metacharacters unless the type is `shell`), and then shlex.quote'd anyway, so a
parameter can never become a second command however the template is written.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from collectors.config import Duration, Regex, StrictModel

LIBRARY_DIR = Path(__file__).resolve().parent / "library"
BUILTIN_VARS = frozenset({"target_name", "target_host", "target_port", "target_user"})
TEMPLATE_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_NAME_RE = r"^[a-z0-9][a-z0-9-]*$"
# Characters a shell gives meaning to. Space is allowed only by `text` (quoting keeps it one
# word); nothing but `shell` may carry these.
_SHELL_META = set(";&|$`<>()\\'\"*?[]{}!#~")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)
_UNIT_RE = re.compile(r"^[A-Za-z0-9:_.@-]{1,200}$")
_STRING_RE = re.compile(r"^[A-Za-z0-9_.,:@%+=/-]*$")
_PATH_RE = re.compile(r"^/[A-Za-z0-9_./@+-]*$")

ParamType = Literal["string", "text", "int", "bool", "hostname", "ipaddr", "host", "unit",
                    "path", "choice", "shell"]


class PlaybookError(ValueError):
    """A playbook or its parameters are not acceptable; str() is one clear line."""


class Param(StrictModel):
    type: ParamType = "string"
    description: str = ""
    required: bool | None = None  # default: required when there is no default
    default: str | int | bool | None = None
    choices: list[str] | None = None
    min: int | None = None
    max: int | None = None
    pattern: Regex | None = None  # an extra full-match constraint on the text form

    @model_validator(mode="after")
    def _choices_match(self) -> Param:
        if self.type == "choice" and not self.choices:
            raise ValueError("type choice needs `choices`")
        return self

    @property
    def is_required(self) -> bool:
        return self.required if self.required is not None else self.default is None

    def coerce(self, name: str, raw: Any) -> str:
        """Validate one value; return its text form. Raises PlaybookError naming the param."""
        text = str(raw).lower() if isinstance(raw, bool) else str(raw)
        if _CONTROL_RE.search(text):
            raise PlaybookError(f"parameter {name!r}: control characters (newline, tab, NUL) "
                                "are not allowed")
        t = self.type
        if t != "shell":
            bad = sorted({c for c in text if c in _SHELL_META})
            if bad:
                raise PlaybookError(f"parameter {name!r}: shell metacharacters "
                                    f"{''.join(bad)!r} are not allowed in a {t} value")
            if " " in text and t != "text":
                raise PlaybookError(f"parameter {name!r}: spaces are not allowed in a {t} value")
        if t in ("string", "text") and not _STRING_RE.match(text.replace(" ", "")):
            raise PlaybookError(f"parameter {name!r}: only letters, digits and _ . , : @ % + "
                                "= / - are allowed")
        elif t == "int":
            if not re.fullmatch(r"-?\d{1,18}", text):
                raise PlaybookError(f"parameter {name!r}: {text!r} is not an integer")
            v = int(text)
            if (self.min is not None and v < self.min) or (self.max is not None and v > self.max):
                raise PlaybookError(f"parameter {name!r}: {v} is outside "
                                    f"[{self.min}, {self.max}]")
        elif t == "bool":
            if text.lower() not in ("true", "false", "yes", "no", "1", "0"):
                raise PlaybookError(f"parameter {name!r}: {text!r} is not true/false")
            text = "true" if text.lower() in ("true", "yes", "1") else "false"
        elif t == "hostname" and not _HOSTNAME_RE.match(text):
            raise PlaybookError(f"parameter {name!r}: {text!r} is not a hostname")
        elif t == "ipaddr":
            _ip(name, text)
        elif t == "host" and not _HOSTNAME_RE.match(text):
            _ip(name, text)
        elif t == "unit" and (not _UNIT_RE.match(text) or text.startswith("-")):
            raise PlaybookError(f"parameter {name!r}: {text!r} is not a systemd unit name")
        elif t == "path" and (not _PATH_RE.match(text) or "/../" in text + "/"):
            raise PlaybookError(f"parameter {name!r}: {text!r} must be an absolute path of "
                                "letters, digits and _ . / @ + - without '..'")
        if self.choices is not None and text not in self.choices:
            raise PlaybookError(f"parameter {name!r}: {text!r} is not one of "
                                f"{', '.join(self.choices)}")
        if self.pattern is not None and not re.fullmatch(self.pattern, text):
            raise PlaybookError(f"parameter {name!r}: {text!r} does not match {self.pattern!r}")
        return text


def _ip(name: str, text: str) -> None:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise PlaybookError(f"parameter {name!r}: {text!r} is not an IP address") from None


class Upload(StrictModel):
    src: str  # a local file or directory (every file in it), on the machine running pantau
    dest: str  # remote directory for a directory src, else remote file path
    mode: int | None = None


class Write(StrictModel):
    dest: str
    content: str
    mode: int | None = None


class Expect(StrictModel):
    exit: int | list[int] = 0
    stdout: Regex | None = None  # a regex that must be found in stdout

    def codes(self) -> list[int]:
        return self.exit if isinstance(self.exit, list) else [self.exit]


class Step(StrictModel):
    name: str = Field(min_length=1)
    run: str | None = None
    upload: Upload | None = None
    write: Write | None = None
    expect: Expect = Field(default_factory=Expect)
    timeout: Duration = 60.0
    on_failure: Literal["abort", "continue"] = "abort"

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        n = sum(x is not None for x in (self.run, self.upload, self.write))
        if n != 1:
            raise ValueError(f"step {self.name!r}: give exactly one of run, upload, write")
        return self

    def templates(self) -> list[str]:
        out = [t for t in (self.run,) if t is not None]
        if self.upload:
            out += [self.upload.src, self.upload.dest]
        if self.write:
            out += [self.write.dest, self.write.content]
        return out


class Playbook(StrictModel):
    name: str = Field(pattern=_NAME_RE)
    description: str
    targets: Literal["linux", "routeros", "any"] = "linux"
    parameters: dict[str, Param] = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1)

    source: str = ""  # the file it was loaded from (set by the loader)

    @field_validator("parameters")
    @classmethod
    def _param_names(cls, v: dict[str, Param]) -> dict[str, Param]:
        for name in v:
            if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
                raise ValueError(f"invalid parameter name {name!r}")
            if name in BUILTIN_VARS:
                raise ValueError(f"parameter name {name!r} is reserved")
        return v

    @model_validator(mode="after")
    def _templates_known(self) -> Playbook:
        known = set(self.parameters) | BUILTIN_VARS
        for step in self.steps:
            for tpl in step.templates():
                for var in TEMPLATE_RE.findall(tpl):
                    if var not in known:
                        raise ValueError(f"step {step.name!r} uses undeclared parameter {var!r}")
        for name, p in self.parameters.items():
            if p.default is not None:
                try:
                    p.coerce(name, p.default)
                except PlaybookError as e:
                    raise ValueError(f"default: {e}") from None
        return self

    def validate_params(self, given: dict[str, str]) -> dict[str, str]:
        """All parameters typed and checked, defaults filled in; PlaybookError otherwise."""
        unknown = sorted(set(given) - set(self.parameters))
        if unknown:
            raise PlaybookError(f"{self.name}: unknown parameter(s) {', '.join(unknown)} "
                                f"(known: {', '.join(self.parameters) or 'none'})")
        out: dict[str, str] = {}
        for name, p in self.parameters.items():
            if name in given:
                out[name] = p.coerce(name, given[name])
            elif p.default is not None:
                out[name] = p.coerce(name, p.default)
            elif p.is_required:
                raise PlaybookError(f"{self.name}: parameter {name!r} is required "
                                    f"({p.description or p.type})")
            else:
                out[name] = ""
        return out


def render(template: str, values: dict[str, str], *, quote: bool) -> str:
    """Substitute {{ name }}; quote=True shell-quotes every value (for `run`)."""
    def sub(m: re.Match[str]) -> str:
        v = values[m.group(1)]
        return shlex.quote(v) if quote else v

    return TEMPLATE_RE.sub(sub, template)


def load_playbook(path: Path) -> Playbook:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise PlaybookError(f"{path}: cannot read: {e.strerror}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise PlaybookError(f"{path}:{where} invalid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(data, dict):
        raise PlaybookError(f"{path}: a playbook must be a mapping")
    try:
        pb = Playbook.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        more = f" (+{len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
        raise PlaybookError(f"{path}: {loc}: {msg}{more}") from None
    if pb.name != path.stem:
        raise PlaybookError(f"{path}: name {pb.name!r} must match the file name")
    pb.source = str(path)
    return pb


def discover(extra_dirs: list[Path] | None = None) -> dict[str, Path]:
    """name -> file. Configured directories override the shipped library by name."""
    found: dict[str, Path] = {}
    for d in [LIBRARY_DIR, *(extra_dirs or [])]:
        if not d.is_dir():
            continue
        for f in sorted(d.glob("*.yml")) + sorted(d.glob("*.yaml")):
            found[f.stem] = f
    return found


def find_playbook(name: str, extra_dirs: list[Path] | None = None) -> Playbook:
    files = discover(extra_dirs)
    if name not in files:
        raise PlaybookError(f"unknown playbook {name!r} (known: {', '.join(sorted(files))})")
    return load_playbook(files[name])
