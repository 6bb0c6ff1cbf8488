"""Progress lines for long work without a terminal."""

from __future__ import annotations

import io

import pytest

from pairlm.models.torch_utils import Heartbeat


def test_heartbeat_without_a_tty_prints_at_most_every_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    err = io.StringIO()  # not a TTY
    monkeypatch.setattr("sys.stderr", err)
    now = [0.0]
    hb = Heartbeat("lora training", 100, every=60.0)
    hb._clock = lambda: now[0]
    hb._t0 = hb._last = 0.0
    assert hb.active
    now[0] = 30.0
    assert hb.update(10, 8, loss=0.5) is None  # too soon
    now[0] = 61.0
    line = hb.update(20, 8, loss=0.5)
    assert line is not None and line.startswith("lora training: step 20/100 (20%)")
    assert "examples/s" in line and "loss 0.5000" in line and "ETA" in line
    now[0] = 62.0
    assert hb.update(100, 8) is not None  # the last step is always reported
    assert err.getvalue().count("\n") == 2


def test_heartbeat_off_when_asked_or_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not Heartbeat("x", 10, enabled=False).active

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stderr", Tty())
    assert not Heartbeat("x", 10).active
