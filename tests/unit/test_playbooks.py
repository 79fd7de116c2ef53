"""Playbook schema, typed parameters, rendering, planning and audit — no network needed."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from collectors.ssh import SshSection
from playbooks.audit import JsonlAuditSink
from playbooks.runner import AlertTrigger, PlaybookRunner, plan, resolve_targets
from playbooks.schema import (
    LIBRARY_DIR,
    Param,
    PlaybookError,
    discover,
    find_playbook,
    load_playbook,
    render,
)

REPO = Path(__file__).resolve().parents[2]
SHIPPED = ["collect-diagnostics", "deploy-agent", "diagnose-uplink", "restart-service"]


def test_shipped_playbooks_load() -> None:
    found = discover()
    assert sorted(found) == SHIPPED
    for name in SHIPPED:
        pb = load_playbook(found[name])
        assert pb.description and pb.steps


INJECTIONS = ["; rm -rf /", "$(reboot)", "`reboot`", "a\nreboot", "a|reboot", "a>/etc/passwd",
              "a<b", "a&&b", "a&", "${IFS}", "a'b", 'a"b', "a\\b", "a\rb", "a\x00b", "*",
              "a b", "~root", "!1", "{a,b}"]


@pytest.mark.parametrize("ptype", ["string", "int", "hostname", "ipaddr", "host", "unit",
                                   "path", "bool"])
@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_rejected_by_every_safe_type(ptype: str, value: str) -> None:
    with pytest.raises(PlaybookError) as e:
        Param.model_validate({"type": ptype}).coerce("p", value)
    assert "'p'" in str(e.value) and "\n" not in str(e.value)


def test_text_allows_spaces_only() -> None:
    assert Param(type="text").coerce("p", "hello kantor camat") == "hello kantor camat"
    for bad in ("a;b", "$(x)", "a\nb", "`x`"):
        with pytest.raises(PlaybookError):
            Param(type="text").coerce("p", bad)


def test_shell_type_allows_metacharacters_but_not_newlines() -> None:
    assert Param(type="shell").coerce("p", "a; b | c $(d)") == "a; b | c $(d)"
    with pytest.raises(PlaybookError, match="control characters"):
        Param(type="shell").coerce("p", "a\nb")


@pytest.mark.parametrize("ptype,value,expected", [
    ("int", "42", "42"), ("bool", "yes", "true"), ("bool", True, "true"),
    ("hostname", "portal.example.go.id", "portal.example.go.id"), ("ipaddr", "fd00::1", "fd00::1"),
    ("host", "10.0.0.1", "10.0.0.1"), ("unit", "php8.2-fpm.service", "php8.2-fpm.service"),
    ("path", "/opt/pantau", "/opt/pantau"), ("string", "kantor-a_1", "kantor-a_1"),
])
def test_valid_values(ptype: str, value: object, expected: str) -> None:
    assert Param.model_validate({"type": ptype}).coerce("p", value) == expected


def test_constraints() -> None:
    with pytest.raises(PlaybookError, match="outside"):
        Param(type="int", min=1, max=5).coerce("n", "6")
    with pytest.raises(PlaybookError, match="not one of"):
        Param(type="unit", choices=["nginx.service"]).coerce("u", "ssh.service")
    with pytest.raises(PlaybookError, match="does not match"):
        Param(type="string", pattern="[a-z]+").coerce("s", "ABC")
    with pytest.raises(PlaybookError, match=re.escape("'..'")):
        Param(type="path").coerce("p", "/opt/../etc")
    with pytest.raises(PlaybookError, match="unit name"):
        Param(type="unit").coerce("u", "--help")


def test_render_quotes_every_value() -> None:
    values = {"a": "x y", "b": "it's"}
    out = render("echo {{ a }} {{b}}", values, quote=True)
    assert shlex.split(out) == ["echo", "x y", "it's"]
    assert render("site: {{ a }}", values, quote=False) == "site: x y"


def write_pb(d: Path, name: str, body: str) -> Path:
    p = d / f"{name}.yml"
    p.write_text(body)
    return p


def test_bad_playbooks_are_one_line_errors(tmp_path: Path) -> None:
    cases = {
        "undeclared": ("name: undeclared\ndescription: d\nsteps:\n  - {name: s, run: "
                       "'echo {{ nope }}'}\n", "undeclared parameter 'nope'"),
        "two-actions": ("name: two-actions\ndescription: d\nsteps:\n  - {name: s, run: x, "
                        "write: {dest: /x, content: y}}\n", "exactly one of"),
        "wrong-name": ("name: other\ndescription: d\nsteps:\n  - {name: s, run: x}\n",
                       "must match the file name"),
        "bad-yaml": ("name: [\n", "invalid YAML"),
        "bad-default": ("name: bad-default\ndescription: d\nparameters:\n  p: {type: int, "
                        "default: 'x;y'}\nsteps:\n  - {name: s, run: 'echo {{ p }}'}\n",
                        "default"),
        "reserved": ("name: reserved\ndescription: d\nparameters:\n  target_host: {}\n"
                     "steps:\n  - {name: s, run: x}\n", "reserved"),
        "typo": ("name: typo\ndescription: d\nsteps:\n  - {name: s, run: x, tiemout: 5}\n",
                 "tiemout"),
    }
    for name, (body, msg) in cases.items():
        with pytest.raises(PlaybookError) as e:
            load_playbook(write_pb(tmp_path, name, body))
        assert msg in str(e.value), (name, str(e.value))
        assert "\n" not in str(e.value)


def test_config_dir_overrides_shipped(tmp_path: Path) -> None:
    src = (LIBRARY_DIR / "restart-service.yml").read_text()
    write_pb(tmp_path, "restart-service", src.replace("- chrony.service",
                                                      "- chrony.service\n      - simpeg.service"))
    pb = find_playbook("restart-service", [tmp_path])
    assert pb.source == str(tmp_path / "restart-service.yml")
    assert pb.validate_params({"unit": "simpeg.service"})["unit"] == "simpeg.service"
    with pytest.raises(PlaybookError, match="not one of"):
        find_playbook("restart-service").validate_params({"unit": "simpeg.service"})


def section(tmp_path: Path, **extra: object) -> SshSection:
    key = tmp_path / "id"
    key.write_text("not really a key")
    return SshSection.model_validate({
        "credentials": {"k": {"user": "admin", "key_file": str(key)}},
        "hosts": {"srv": {"address": "192.0.2.10", "credential": "k", "groups": ["g"]},
                  "gw": {"address": "192.0.2.1:2222", "credential": "k", "kind": "routeros"}},
        **extra})


def test_plan_renders_exact_commands(tmp_path: Path) -> None:
    s = section(tmp_path)
    pb = find_playbook("diagnose-uplink")
    pl = plan(pb, {"upstream": "203.0.113.1", "count": "3"}, resolve_targets(s, ["gw"]))
    cmds = [ps.command for ps in pl.steps["gw"]]
    assert "/ping 203.0.113.1 count=3" in cmds
    with pytest.raises(PlaybookError, match="routeros hosts; srv is linux"):
        plan(pb, {}, resolve_targets(s, ["srv"]))


def test_targets_resolution(tmp_path: Path) -> None:
    s = section(tmp_path)
    assert [t.name for t in resolve_targets(s, [], ["g"])] == ["srv"]
    t = resolve_targets(s, ["198.51.100.7:2200"], credential="k")[0]
    assert (t.host, t.port, t.auth.user) == ("198.51.100.7", 2200, "admin")
    with pytest.raises(PlaybookError, match="unknown host"):
        resolve_targets(s, ["198.51.100.7"])
    with pytest.raises(PlaybookError, match="group"):
        resolve_targets(s, [], ["nobody"])
    with pytest.raises(ValueError, match="unknown ssh credential"):
        resolve_targets(s, ["198.51.100.7"], credential="zz")


def test_dry_run_audited_without_connecting(tmp_path: Path) -> None:
    s = section(tmp_path)
    sink = JsonlAuditSink(tmp_path / "audit.jsonl")
    events: list[tuple[str, str, str, str]] = []
    runner = PlaybookRunner(s, sink, known_hosts=tmp_path / "kh",
                            on_event=lambda *e: events.append(e))
    pl = plan(find_playbook("restart-service"), {"unit": "nginx.service"},
              resolve_targets(s, ["srv"]))
    res = runner.run(pl, who="tester", dry_run=True)
    assert res[0].result == "dry_run"
    rec = sink.read()[0]
    assert rec["who"] == "tester" and rec["parameters"] == {"unit": "nginx.service"}
    assert any("systemctl restart nginx.service" in e[3] for e in events)


def test_alert_trigger_refuses_unlisted_playbook(tmp_path: Path) -> None:
    s = section(tmp_path, allowed_playbooks=["collect-diagnostics"])
    sink = JsonlAuditSink(tmp_path / "audit.jsonl")
    ok, msg = AlertTrigger(s, sink, tmp_path / "kh").trigger("restart-service", "srv", "web")
    assert not ok and "allowed_playbooks" in msg
    assert sink.read()[0]["result"] == "rejected"


def test_section_validation(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown credential 'nope'"):
        SshSection.model_validate({"hosts": {"a": {"address": "h", "credential": "nope"}}})
    with pytest.raises(ValueError, match="key_file or password"):
        SshSection.model_validate({"credentials": {"a": {"user": "u"}}})
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    s = SshSection.model_validate({"credentials": {"a": {"user": "u",
                                                         "password_file": str(pw)}}})
    assert s.credentials["a"].auth().password == "s3cret"
    assert "s3cret" not in repr(s) and "s3cret" not in s.model_dump_json()


def test_audit_sink_appends_json_lines(tmp_path: Path) -> None:
    sink = JsonlAuditSink(tmp_path / "sub" / "a.jsonl")
    sink.record({"playbook": "x", "result": "ok"})
    sink.record({"playbook": "y", "result": "failed"})
    lines = (tmp_path / "sub" / "a.jsonl").read_text().splitlines()
    assert [json.loads(x)["playbook"] for x in lines] == ["x", "y"]
    assert oct((tmp_path / "sub" / "a.jsonl").stat().st_mode & 0o777) == "0o600"


def test_no_http_path_reaches_playbooks() -> None:
    """Nothing that serves HTTP imports the playbook runner."""
    offenders = []
    for f in (REPO / "exporters").glob("*.py"):
        if re.search(r"^\s*(from|import)\s+playbooks", f.read_text(), re.M):
            offenders.append(f.name)
    assert offenders == []
