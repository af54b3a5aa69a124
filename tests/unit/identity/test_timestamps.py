"""Keystone's timestamp text for token times."""

from __future__ import annotations

import random
import time

import pytest

from onestack.identity.auth import iso_epoch


def reference(value: float) -> str:
    whole = int(value)
    micros = round((value - whole) * 1_000_000)
    if micros == 1_000_000:
        whole, micros = whole + 1, 0
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(whole))}.{micros:06d}Z"


@pytest.mark.parametrize("value", [0.0, 1.0, 1.9999996, 1_795_000_000.123456, 4_102_444_799.5])
def test_fixed_values(value: float) -> None:
    assert iso_epoch(value) == reference(value)


def test_random_values_match_strftime() -> None:
    rng = random.Random(7)
    for _ in range(5000):
        value = rng.uniform(0, 4_102_444_800)
        assert iso_epoch(value) == reference(value)
    now = time.time()
    for step in range(5000):  # many values within the same few seconds
        value = now + step / 1000
        assert iso_epoch(value) == reference(value)


def test_format() -> None:
    assert iso_epoch(1_795_000_000.5) == "2026-11-18T11:06:40.500000Z"
