"""The agent's GC and GIL settings for answer latency (agent/runtime.py)."""

from __future__ import annotations


def test_latency_settings_are_put_back_when_the_agent_stops() -> None:
    """The agent paces GC itself and shortens the GIL switch interval while it runs
    (agent/runtime.py); an agent run inside another process (the tests) leaves neither."""
    import gc
    import sys

    from agent import runtime

    before = (gc.get_threshold(), sys.getswitchinterval())
    restore = runtime._tune_for_latency()
    try:
        assert gc.get_threshold() == runtime.GC_THRESHOLDS
        assert sys.getswitchinterval() == runtime.SWITCH_INTERVAL
    finally:
        restore()
    assert (gc.get_threshold(), sys.getswitchinterval()) == before
