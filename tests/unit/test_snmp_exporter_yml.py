"""snmp_exporter's snmp.yml in both formats, its series from a walk, and every option
pantau's /snmp cannot honour refused with the module and the option."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from collectors.snmp.exporter import OctetString, SnmpYmlError, parse_snmp_yml, render, series_of

DATA = Path(__file__).parents[1] / "testdata" / "snmp_exporter"


def test_both_formats_give_the_same_modules() -> None:
    old = parse_snmp_yml((DATA / "old-format.yml").read_text())
    new = parse_snmp_yml((DATA / "new-format.yml").read_text())
    assert set(old.modules) == set(new.modules) == {"if_mib", "system"}
    assert old.modules["if_mib"].auth is not None
    assert old.modules["if_mib"].auth.community == "kantor"
    assert new.auths["kantor_v2"].community == "kantor"
    for name in old.modules:
        assert old.modules[name].metrics == new.modules[name].metrics
        assert old.modules[name].walk == new.modules[name].walk


def test_regex_extracts_bits_date_and_time() -> None:
    text = M.replace("name: x", "name: temp") + """\
    type: DisplayString
    regex_extracts:
      Celsius: [{regex: '^([0-9.]+) C$', value: '$1'}, {regex: '.*', value: '0'}]
  - name: alarms
    oid: 1.3.6.1.2.1.2.2
    type: Bits
    enum_values: {0: fan, 9: door}
  - name: clock
    oid: 1.3.6.1.2.1.2.3
    type: DateAndTime
"""
    mod = parse_snmp_yml(text).modules["m"]
    pdus = {(1, 3, 6, 1, 2, 1, 2, 1, 0): OctetString(b"21.5 C"),
            (1, 3, 6, 1, 2, 1, 2, 2, 0): OctetString(b"\x80\x40"),
            (1, 3, 6, 1, 2, 1, 2, 3, 0): OctetString(b"\x07\xea\x0c\x01\x0a\x00\x00\x00"
                                                     b"+\x07\x00")}
    got = {(n, tuple(sorted(ls.items()))): v for n, _, _, ls, v in series_of(mod, pdus)}
    assert got[("tempCelsius", ())] == 21.5
    assert got[("alarms", (("alarms", "fan"),))] == 1
    assert got[("alarms", (("alarms", "door"),))] == 1
    assert got[("clock", ())] == 1796094000.0  # 2026-12-01 10:00 +07:00 (WIB)


def test_series_indexes_lookups_enums() -> None:
    mod = parse_snmp_yml((DATA / "old-format.yml").read_text()).modules["if_mib"]
    base = (1, 3, 6, 1, 2, 1, 2, 2, 1)
    pdus = {(*base, 2, 7): OctetString(b"ether1"), (*base, 10, 7): 1234,
            (*base, 3, 7): 6, (*base, 8, 7): 2, (*base, 6, 7): OctetString(b"\x00\x0c\x29\x01"
                                                                             b"\x02\x03")}
    got = {(n, tuple(sorted(ls.items()))): v for n, _, _, ls, v in series_of(mod, pdus)}
    assert got[("ifInOctets", (("ifAlias", ""), ("ifDescr", "ether1"), ("ifIndex", "7")))] \
        == 1234
    assert got[("ifType_info", (("ifIndex", "7"), ("ifType", "ethernetCsmacd")))] == 1
    assert got[("ifOperStatus", (("ifIndex", "7"), ("ifOperStatus", "down")))] == 1
    assert got[("ifOperStatus", (("ifIndex", "7"), ("ifOperStatus", "up")))] == 0
    assert got[("ifPhysAddress", (("ifIndex", "7"), ("ifPhysAddress", "00:0C:29:01:02:03")))] \
        == 1
    assert got[("ifDescr", (("ifDescr", "0x657468657231"), ("ifIndex", "7")))] == 1
    body = render(series_of(mod, pdus), 0.01, {"pdus": 5, "sent": 2, "retried": 0,
                                               "walk": 0.01}).decode()
    assert "# TYPE ifInOctets counter\n" in body and "snmp_scrape_pdus_returned 5\n" in body


M = "m:\n  walk: [1.3.6.1.2.1.2]\n  metrics:\n  - name: x\n    oid: 1.3.6.1.2.1.2.1\n"


@pytest.mark.parametrize(("text", "expected"), [
    (M + "    type: Opaque\n", "m.metrics.0.type: 'Opaque' is not supported"),
    (M + "    type: gauge\n    offsets: 1\n", "m.metrics.0.offsets: not supported"),
    (M + "    type: gauge\n    indexes: [{labelname: i, type: Bits}]\n",
     "m.metrics.0.indexes.0.type: 'Bits' is not supported"),
    (M + "    type: gauge\n    indexes: [{labelname: i, type: OctetString}]\n",
     "m.metrics.0.indexes.0: OctetString index needs fixed_size"),
    (M + "    type: gauge\n  version: 5\n", "m.version: unknown SNMP version 5"),
    (M + "    type: gauge\n    regex_extracts: {T: [{regex: '(', value: '$1'}]}\n",
     "m.metrics.0.regex_extracts.T.0.regex: missing )"),
    (M + "    type: gauge\n  auth: {user: u}\n", "m.auth.user: unknown auth option"),
    (M + "    type: gauge\n  filters: []\n", "m.filters: not supported"),
    ("auths:\n  a: {version: 4}\nmodules: {}\n", "auths.a.version: unknown SNMP version 4"),
    ("modules: {}\noverrides: {}\n", "overrides: unknown top-level key"),
    (M + "    type: gauge\n  walk: [1.3.x]\n", "m.walk: '1.3.x' is not a numeric OID"),
])
def test_unsupported_options_are_refused(text: str, expected: str) -> None:
    with pytest.raises(SnmpYmlError) as e:
        parse_snmp_yml(text, "snmp.yml")
    assert expected in str(e.value), e.value


def test_v3_auths_read_and_what_pantau_cannot_answer() -> None:
    new = parse_snmp_yml((DATA / "new-format.yml").read_text())
    v3 = new.auths["kantor_v3"]
    assert (v3.version, v3.security_level, v3.username, v3.auth_protocol, v3.priv_protocol) \
        == (3, "authPriv", "pantauv3", "SHA", "AES")
    assert v3.v3_problem() == ""
    assert "authpass" not in repr(v3) and "privpass" not in repr(v3)  # never in a log line
    old = parse_snmp_yml(M + "    type: gauge\n  version: 3\n  auth: {username: u, "
                         "security_level: authNoPriv, password: p12345678}\n")
    assert old.modules["m"].auth is not None and old.modules["m"].auth.version == 3
    assert old.modules["m"].auth.v3_problem() == ""
    for change, problem in (({"security_level": "noAuthNoPriv"}, "security_level"),
                            ({"priv_protocol": "AES256C"}, "priv_protocol 'AES256C'"),
                            ({"priv_password": ""}, "needs priv_password"),
                            ({"context_name": "vlan-5"}, "context_name")):
        assert problem in dataclasses.replace(v3, **change).v3_problem()


def test_device_modules_must_exist_in_the_snmp_yml() -> None:
    from collectors.snmp import SnmpSection

    base = {"exporter_modules": str(DATA / "new-format.yml"), "exporter_targets": ["10.0.0.0/8"],
            "auths": {"a": {"community": "c"}}}
    sec = SnmpSection.model_validate({**base, "devices": [
        {"name": "sw", "address": "10.0.0.1", "auth": "a", "modules": ["if_mib"]}]})
    assert sec.devices[0].profiles == []  # snmp_exporter's series alone, unless asked
    with pytest.raises(ValueError, match=r"unknown snmp.yml module 'if_mb' \(known: if_mib, "
                       r"system\)"):
        SnmpSection.model_validate({**base, "devices": [
            {"name": "sw", "address": "10.0.0.1", "auth": "a", "modules": ["if_mb"]}]})
