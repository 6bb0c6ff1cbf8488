"""`pairlm.progress`: a bar on a terminal, minute lines elsewhere, nothing when switched off."""

from __future__ import annotations

import io

import pytest

from pairlm.progress import LineProgress, progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _clocked(bar: LineProgress, now: list[float]) -> LineProgress:
    bar._clock = lambda: now[0]
    bar._t0 = bar._last = 0.0
    return bar


def test_lines_without_a_terminal_at_most_every_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    bar = progress(total=10, desc="lexical", unit="fold")
    assert isinstance(bar, LineProgress)
    now = [0.0]
    _clocked(bar, now)
    now[0] = 10.0
    assert bar.update(1) is None  # within the minute: nothing
    now[0] = 61.0
    bar.set_postfix(f1="0.7500")
    line = bar.update(1)
    assert line is not None
    assert line.startswith("lexical: 2/10 fold (20%)")
    assert "fold/s" in line and "f1 0.7500" in line and "ETA" in line
    now[0] = 70.0
    for _ in range(8):
        bar.update(1)
    bar.close()  # finished after writing lines: one last line
    assert err.getvalue().count("\n") == 2
    assert err.getvalue().splitlines()[-1].startswith("lexical: 10/10 fold (100%)")


def test_short_work_prints_nothing_and_iteration_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    bar = progress(range(5), desc="epoch")
    assert list(bar) == [0, 1, 2, 3, 4]
    assert bar.n == 5 and bar.total == 5
    bar.close()
    assert err.getvalue() == ""


def test_switched_off_is_silent_and_a_terminal_gets_tqdm(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    off = progress(range(3), enabled=False, every=0.0)
    assert list(off) == [0, 1, 2]
    off.close()
    assert err.getvalue() == ""
    monkeypatch.setattr("sys.stderr", _Tty())
    from tqdm.auto import tqdm

    bar = progress(range(3), desc="x")
    assert isinstance(bar, tqdm)
    bar.close()


def test_without_an_iterable_iterating_is_an_error() -> None:
    with pytest.raises(TypeError, match="no iterable"):
        list(LineProgress(total=3))
