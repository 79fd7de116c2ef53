"""Store.put hands out the same final Sample for a Sample object the collector hands again
(SNMP keeps the object of an unchanged value), and builds a new one for anything else."""

from __future__ import annotations

from agent.store import Store
from collectors.base import Observation, Sample

LABELS = (("device", "sw1"), ("ifindex", "1"))


def test_same_object_same_final_sample_new_value_new_sample() -> None:
    store = Store("office")
    kept = Sample("pantau_if_oper_up", 1.0, LABELS)
    moving = Sample("pantau_if_in_octets_total", 10.0, LABELS)
    first = store.put("snmp:sw1", "sw1", "snmp", Observation(True, [kept, moving]),
                      per_check=False)
    again = Sample("pantau_if_in_octets_total", 20.0, LABELS)
    second = store.put("snmp:sw1", "sw1", "snmp", Observation(True, [kept, again]),
                       per_check=False)
    assert second.samples[0] is first.samples[0]
    assert second.samples[1] is not first.samples[1]
    assert second.samples == [Sample("pantau_if_oper_up", 1.0, (("site", "office"), *LABELS)),
                              Sample("pantau_if_in_octets_total", 20.0,
                                     (("site", "office"), *LABELS))]
    # the label cache still knows the reused sample's labels: a new value keeps them
    third = store.put("snmp:sw1", "sw1", "snmp", Observation(True, [
        Sample("pantau_if_oper_up", 0.0, LABELS), again]), per_check=False)
    assert third.samples[0].labels is first.samples[0].labels
    assert third.samples[0].value == 0.0
    assert third.samples[1] is second.samples[1]


def test_other_fixed_labels_build_everything_again() -> None:
    store = Store("office")
    kept = Sample("pantau_snmp_up", 1.0, (("device", "sw1"),))
    first = store.put("snmp:sw1", "sw1", "snmp", Observation(True, [kept]), per_check=False)
    second = store.put("snmp:sw1", "sw1", "snmp", Observation(True, [kept]), per_check=False,
                       extra_labels={"floor": "2"})
    assert second.samples[0] is not first.samples[0]
    assert second.samples[0].labels == (("site", "office"), ("floor", "2"), ("device", "sw1"))
