"""The log-spaced measurement schedule (``every="log"``, docs/METHOD.md
"Log-spaced measurements"): the documented steps, strictly increasing,
dense early, about points_per_decade × window measurements per decade, and
each step measured at most once by Probe.step."""

import json
import math
import warnings

import pytest
import torch
from torch import nn

from spectop_probe import LogSchedule, Probe, ProbeError, ProbeWarning
from spectop_probe.schedule import EverySchedule, resolve_schedule

# The default schedule's steps up to 200, as docs/METHOD.md gives them:
# centres 0, 1, 2, 3, 5, 6, 7, 10, 12, 15, 19, 25, 31, 39, 50, 63, 79, 100,
# 125, 158, 199, each followed by 5 consecutive steps.
DOCUMENTED = (list(range(0, 24)) + list(range(25, 30)) + list(range(31, 36)) + list(range(39, 44))
              + list(range(50, 55)) + list(range(63, 68)) + list(range(79, 84)) + list(range(100, 105))
              + list(range(125, 130)) + list(range(158, 163)) + [199, 200])


def test_the_default_schedule_gives_the_documented_steps():
    schedule = resolve_schedule("log")
    assert schedule == LogSchedule(points_per_decade=10, window=5)
    assert schedule.centres_upto(200) == [0, 1, 2, 3, 5, 6, 7, 10, 12, 15, 19, 25, 31, 39, 50, 63, 79, 100, 125,
                                          158, 199]
    assert schedule.steps(200) == DOCUMENTED
    assert schedule.describe() == {"kind": "log", "points_per_decade": 10, "window": 5}


@pytest.mark.parametrize("points, window", [(10, 5), (3, 1), (5, 3), (20, 8), (1, 2)])
def test_steps_increase_are_dense_early_and_grow_with_log_steps(points, window):
    schedule = LogSchedule(points_per_decade=points, window=window)
    steps = schedule.steps(10 ** 6)
    assert steps == sorted(set(steps)) and steps[0] == 0
    assert all(schedule.due(s) for s in steps)
    assert set(steps) == {s for s in range(0, 2000) if schedule.due(s)} | {s for s in steps if s >= 2000}
    # Dense early: every step up to the first gap between windows.
    assert steps[:window] == list(range(window))
    # Every centre is 10^(k/p) rounded down; the powers of ten are centres exactly.
    centres = schedule.centres_upto(10 ** 15)
    for j in range(16):
        assert 10 ** j in centres
    for c in centres[1:]:
        k = round(points * math.log10(c))
        assert c == math.floor(10 ** (k / points) + 1e-9) or c == math.floor(10 ** ((k + 1) / points) + 1e-9) \
            or c == math.floor(10 ** ((k - 1) / points) + 1e-9)
    # Far from the start every decade holds the same count: points × window (windows no longer overlap).
    counts = [len(schedule.steps(10 ** d)) for d in range(1, 7)]
    late = [b - a for a, b in zip(counts, counts[1:])][-2:]
    assert all(abs(d - points * window) <= window for d in late), counts
    # A decade holds at most `points` centres, each with `window` steps: the
    # count up to T = 10^D is at most (points·D + 2)·window, logarithmic in T.
    assert counts[-1] <= (points * 6 + 2) * window


def test_windows_and_gaps():
    schedule = LogSchedule()
    # Every step belongs to the window of the largest centre at or below it that still covers it.
    assert [schedule.window_of(s) for s in (0, 1, 4, 5, 6, 23, 24, 25, 29, 30, 31, 199, 203, 204)] == \
        [0, 1, 3, 5, 6, 19, None, 25, 25, None, 31, 199, 199, None]
    assert [schedule.gap(s) for s in (0, 1, 2, 25, 31, 39, 50, 100, 125)] == [1, 1, 1, 2, 2, 4, 7, 17, 21]
    assert EverySchedule(7).gap(14) == 7 and EverySchedule(7).window_of(14) is None


@pytest.mark.parametrize("bad, message", [
    ({"points_per_decade": 0}, "points_per_decade must be at least 1"),
    ({"window": 0}, "window must be at least 1"),
    ({"window": 2.5}, "window must be a whole number"),
    ({"points_per_decade": True}, "not a bool"),
])
def test_a_bad_log_schedule_is_refused(bad, message):
    with pytest.raises(ProbeError, match=message):
        LogSchedule(**bad)


@pytest.mark.parametrize("every", ["LOG", "log10", 0, -3, 1.0])
def test_a_bad_every_is_refused(every):
    with pytest.raises(ProbeError, match="every must be"):
        Probe(nn.Linear(2, 1), torch.randn(3, 2), torch.randn(3, 1), every=every, out=None)


def test_the_probe_measures_the_log_steps_once_each(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    x, y = torch.randn(6, 2), torch.randn(6, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    out = tmp_path / "r.jsonl"
    schedule = LogSchedule(points_per_decade=4, window=3)
    with Probe(model, x, y, every=schedule, out=str(out), spectrum=False) as probe:
        for step in range(130):
            for _ in range(3):  # a hook firing once per micro-batch: measured once
                probe.step(step)
            optimizer.zero_grad()
            (0.5 * (model(x) - y).pow(2).sum(1).mean()).backward()
            optimizer.step()
    assert [m.step for m in probe.history] == schedule.steps(129)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["models"][0]["schedule"] == {"kind": "log", "points_per_decade": 4, "window": 3}
    steps = [l for l in lines if l["type"] == "step"]
    assert [s["step"] for s in steps] == schedule.steps(129)
    assert [s["window"] for s in steps] == [schedule.window_of(s["step"]) for s in steps]
    assert {s["window"] for s in steps} == set(schedule.centres_upto(129))
    assert probe.due(100) and not probe.due(99)


def test_every_log_is_the_default_log_schedule():
    probe = Probe(nn.Linear(2, 1), torch.randn(3, 2), torch.randn(3, 1), every="log", out=None)
    assert probe.schedule == LogSchedule() and [s for s in range(40) if probe.due(s)] == [s for s in DOCUMENTED if s < 40]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ProbeWarning)
        measured = [s for s in range(40) if probe.step(s) is not None]
    assert measured == [s for s in DOCUMENTED if s < 40]
