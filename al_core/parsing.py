"""Lists of numbers typed as text, shared by the command line and the app's forms."""

from __future__ import annotations

import re

from al_core.errors import ConfigError


def number_list(text: str, *, example: str, what: str, noun: str = "numbers") -> list[float]:
    """``"0, 0.5 1"`` → ``[0.0, 0.5, 1.0]``: numbers separated by commas or spaces,
    duplicates dropped, order kept; ranges are the caller's to check.

    Raises
    ------
    ConfigError
        A part that is not a number: "``what`` must be ``noun`` separated by
        commas, e.g. ``example``", naming the part.
    """
    values: list[float] = []
    for part in re.split(r"[,\s]+", text.strip()):
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            raise ConfigError(
                f"{what} must be {noun} separated by commas, e.g. {example} (got {part!r})"
            ) from None
        if value not in values:
            values.append(value)
    return values
