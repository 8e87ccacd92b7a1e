"""Argument types shared by the sub-commands: each rejects a bad value with a message that
names the allowed range (argparse then prints it with the option's name)."""

from __future__ import annotations

import argparse


def _number(text: str, kind: type) -> float | int:
    try:
        return kind(text)
    except ValueError:
        noun = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"not {noun}: {text!r}") from None


def positive_float(text: str) -> float:
    """A number > 0."""
    value = _number(text, float)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """A number ≥ 0."""
    value = _number(text, float)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be zero or positive, got {text}")
    return value


def positive_int(text: str) -> int:
    """An integer ≥ 1."""
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def pixels(text: str) -> int:
    """An image size in pixels, 16–20,000."""
    value = _number(text, int)
    if not 16 <= value <= 20000:
        raise argparse.ArgumentTypeError(f"must lie in [16, 20000], got {value}")
    return value
