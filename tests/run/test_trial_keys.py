"""Recorded results stay valid: no refactor may change a shipped trial's key."""

import json
from pathlib import Path

from tests.run.trial_keys import shipped_keys

FIXTURE = Path(__file__).parent / "data" / "trial_keys.json"


def test_every_shipped_trial_keeps_its_key():
    """The reference Table IV run resumes by these keys across sessions and machines
    of its kind; a changed key would silently re-run (or orphan) hours of trials."""
    expected = json.loads(FIXTURE.read_text())
    now = shipped_keys()
    assert sorted(now) == sorted(expected), "a benchmark file was added or removed: " \
        "write the fixture anew (python -m tests.run.trial_keys)"
    for name, profiles in expected.items():
        assert sorted(now[name]) == sorted(profiles), name
        for profile, rows in profiles.items():
            changed = [(r[0], r[2], r[4], n[4]) for r, n in zip(rows, now[name][profile])
                       if r != n]
            assert len(rows) == len(now[name][profile]) and not changed, \
                f"{name} profile {profile!r}: (arm, seed, recorded key, key now) {changed[:5]}"
