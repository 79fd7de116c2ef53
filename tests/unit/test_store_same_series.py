"""Store.put's path for a put with the last put's series in the same order (every run of a
check): the stored samples equal what the general path makes, an unchanged value keeps the
last stored Sample object, and anything that differs in value, type or zero sign gets a new
one."""

from __future__ import annotations

import math

from agent.store import Store
from collectors.base import Observation, Sample

PROBE = (("type", "icmp"), ("target", "127.0.0.1"))
STAT = (("stat", "min"),)


def put(store: Store, samples: list[Sample]) -> list[Sample]:
    return store.put("check:a", "a", "icmp", Observation(True, samples), per_check=True,
                     extra_labels={"zone": "x"}).samples


def final(labels: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    return (("site", "s"), ("check", "a"), ("zone", "x"), *labels)


def run(success: float, loss: float, rtt: float) -> list[Sample]:
    return [Sample("pantau_probe_success", success, PROBE),
            Sample("pantau_icmp_packet_loss_ratio", loss),
            Sample("pantau_icmp_rtt_seconds", rtt, STAT)]


def test_unchanged_values_keep_their_sample_changed_ones_get_new() -> None:
    store = Store("s")
    first = put(store, run(1.0, 0.0, 0.001))
    second = put(store, run(1.0, 0.0, 0.002))
    assert second[0] is first[0] and second[1] is first[1]
    assert second[2] is not first[2]
    assert second == [Sample("pantau_probe_success", 1.0, final(PROBE)),
                      Sample("pantau_icmp_packet_loss_ratio", 0.0, final(())),
                      Sample("pantau_icmp_rtt_seconds", 0.002, final(STAT))]
    # the labels are the cached tuples, not equal copies
    assert second[2].labels is first[2].labels
    assert store.get("check:a") is not None
    assert store.get("check:a").observation.samples is second  # type: ignore[union-attr]


def test_type_sign_and_nan_are_not_the_same_value() -> None:
    store = Store("s")
    first = put(store, run(1.0, 0.0, math.nan))
    second = put(store, [Sample("pantau_probe_success", 1, PROBE),  # int, not float
                         Sample("pantau_icmp_packet_loss_ratio", -0.0),
                         Sample("pantau_icmp_rtt_seconds", math.nan, STAT)])
    assert all(a is not b for a, b in zip(first, second, strict=True))
    assert type(second[0].value) is int
    assert math.copysign(1.0, second[1].value) == -1.0
    assert math.isnan(second[2].value)


def test_other_series_or_order_take_the_general_path() -> None:
    store = Store("s")
    put(store, run(1.0, 0.0, 0.001))
    moved = put(store, list(reversed(run(1.0, 0.0, 0.001))))
    assert [s.labels for s in moved] == [final(STAT), final(()), final(PROBE)]
    fewer = put(store, run(0.0, 1.0, 0.0)[:2])
    assert fewer == [Sample("pantau_probe_success", 0.0, final(PROBE)),
                     Sample("pantau_icmp_packet_loss_ratio", 1.0, final(()))]
    # equal label tuples that are other objects: the same final labels
    again = put(store, [Sample("pantau_probe_success", 0.0, tuple(PROBE)),
                        Sample("pantau_icmp_packet_loss_ratio", 1.0, ())])
    assert again == fewer
    renamed = put(store, [Sample("pantau_probe_duration_seconds", 0.0, PROBE),
                          Sample("pantau_icmp_packet_loss_ratio", 1.0, ())])
    assert renamed[0].name == "pantau_probe_duration_seconds"
    assert renamed[0].labels == final(PROBE)


def test_a_changed_site_or_label_set_relabels_everything() -> None:
    store = Store("s")
    first = put(store, run(1.0, 0.0, 0.001))
    store.site = "t"
    second = put(store, run(1.0, 0.0, 0.001))
    assert second[0] is not first[0]
    assert second[0].labels == (("site", "t"), ("check", "a"), ("zone", "x"), *PROBE)
