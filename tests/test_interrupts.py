"""Ctrl-C while a result is written: the write completes, then the interrupt is raised."""

from __future__ import annotations

import os
import signal

import pytest
from rich.console import Console

from cryobench.config import parse_benchmark
from cryobench.interrupts import interrupts_deferred
from cryobench.run.driver import Driver, Plan
from cryobench.run.plan import expand_trials
from cryobench.run.records import TrialRecord
from cryobench.run.results import ResultStore
from cryobench.run.views import make_view


@pytest.fixture(autouse=True)
def ctrl_c_raises():
    """Python's own SIGINT handler, as in a terminal (a shell started in the background
    hands SIGINT on ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_an_interrupt_inside_is_raised_on_leaving_and_the_handler_is_back():
    before = signal.getsignal(signal.SIGINT)
    done = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            done.append("after the signal")
    assert done == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is before
    with interrupts_deferred():  # nothing received, nothing raised
        pass


def test_a_second_interrupt_is_not_held_and_one_not_delivered_is_dropped():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            done.append("after the first")
            os.kill(os.getpid(), signal.SIGINT)
            done.append("after the second")
    assert done == ["after the first"]
    with interrupts_deferred(deliver=False):  # the work it would stop is done
        with interrupts_deferred():  # inside another: the outer one decides
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


class InterruptedTracker:
    """A tracker that is interrupted halfway through logging a trial."""

    def __init__(self):
        self.logged = []

    def trial_finished(self, trial, record):
        os.kill(os.getpid(), signal.SIGINT)
        self.logged.append(record.key)


def test_ctrl_c_while_a_trial_is_tracked_lets_its_record_and_run_be_written_whole(
        tmp_path, minimal_doc, registry):
    trial = expand_trials(parse_benchmark(minimal_doc, registry))[0]
    store = ResultStore(tmp_path / "results.jsonl")
    tracker = InterruptedTracker()
    console = Console(record=True)
    driver = Driver(store, make_view(console, 1), Plan([trial], {}, [trial]), [tracker])
    record = TrialRecord.failure(trial, "a record to write")
    with pytest.raises(KeyboardInterrupt):
        driver.finished(trial, record)
    assert tracker.logged == [trial.key]  # the tracker finished its write
    assert list(store.read().records) == [trial.key]
