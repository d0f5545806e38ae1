#!/usr/bin/env python3
"""Writes tests/fixtures/croniter.json: cron expressions with the next fire times that Python's
croniter (an implementation independent of hookd's) computes for them.

The Rust test tests/scheduler/croniter.rs checks hookd's schedule parser against this file, so
regenerate it only on purpose:

    python3 -m venv /tmp/croniter-venv && /tmp/croniter-venv/bin/pip install croniter
    /tmp/croniter-venv/bin/python scripts/croniter_fixture.py

Expressions are random but seeded, so a rerun with the same croniter gives the same file.
"""

import json
import random
from datetime import datetime, timezone
from pathlib import Path

import croniter

SEED = 3
CASES = 400
NEXT_TIMES = 5
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "croniter.json"

MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
MACROS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"]


def field(rng, low, high, names=None):
    """One cron field over [low, high], in one of the usual shapes."""
    def value():
        v = rng.randint(low, high)
        if names and rng.random() < 0.3:
            return names[(v - low) % len(names)]
        return str(v)

    shape = rng.choice(["star", "value", "list", "range", "step", "range_step", "value"])
    if shape == "star":
        return "*"
    if shape == "value":
        return value()
    if shape == "list":
        return ",".join(sorted({str(rng.randint(low, high)) for _ in range(rng.randint(2, 4))}, key=int))
    a, b = sorted(rng.sample(range(low, high + 1), 2))
    if shape == "range":
        return f"{a}-{b}"
    if shape == "step":
        return f"*/{rng.randint(2, max(2, (high - low) // 2))}"
    return f"{a}-{b}/{rng.randint(1, max(1, (b - a) // 2 or 1))}"


def expression(rng):
    if rng.random() < 0.05:
        return rng.choice(MACROS), False
    fields = [
        field(rng, 0, 59),
        field(rng, 0, 23),
        field(rng, 1, 31),
        field(rng, 1, 12, MONTHS),
        field(rng, 0, 6, DAYS),
    ]
    # Day of month and day of week combine by OR when both are restricted; keep most cases
    # to one restricted day field so the file mostly tests the plain matching.
    if fields[2] != "*" and fields[4] != "*" and rng.random() < 0.7:
        fields[rng.choice([2, 4])] = "*"
    with_seconds = rng.random() < 0.2
    if with_seconds:
        fields.insert(0, field(rng, 0, 59))
    return " ".join(fields), with_seconds


def main():
    rng = random.Random(SEED)
    cases = []
    while len(cases) < CASES:
        expr, with_seconds = expression(rng)
        start = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp() + rng.randint(0, 3 * 365 * 86400)
        start = datetime.fromtimestamp(start, tz=timezone.utc)
        try:
            it = croniter.croniter(expr, start, second_at_beginning=with_seconds)
            times = [it.get_next(datetime) for _ in range(NEXT_TIMES)]
        except (croniter.CroniterError, ValueError):
            continue
        cases.append({
            "expression": expr,
            "after": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "next": [t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") for t in times],
        })
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"generator": f"croniter, seed {SEED}", "cases": cases}, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
