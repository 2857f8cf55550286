"""The lock's documented promises (README, "Opening the app to a network"), read from
the README itself rather than from the constants that implement them."""

from __future__ import annotations

import re

from al_core import access
from tests.conftest import REPO_ROOT

DAY_S = 24 * 3600


def _signed_in_days() -> int:
    """The days a browser stays signed in, as the README states them."""
    text = " ".join((REPO_ROOT / "README.md").read_text(encoding="utf-8").split())
    found = re.search(r"[Aa] browser stays signed in (?:across reloads )?for (\d+) days", text)
    assert found, "the README no longer says how long a browser stays signed in"
    return int(found.group(1))


def test_a_browser_stays_signed_in_for_the_days_the_readme_promises() -> None:
    days = _signed_in_days()
    issued = 1_000_000
    cookie = access.access_cookie("pw", now=issued)
    assert access.cookie_valid(cookie, "pw", now=issued + days * DAY_S - 60)
    assert access.cookie_valid(cookie, "pw", now=issued + days * DAY_S)
    assert not access.cookie_valid(cookie, "pw", now=issued + days * DAY_S + 1)
    # The browser keeps the cookie as long: its Max-Age is the same number of days.
    assert f"; Max-Age={days * DAY_S};" in access.cookie_header(cookie)


def test_spaces_are_part_of_the_password() -> None:
    """The password is compared as given: a space more or less is a wrong password."""
    assert access.password_matches("pw", "pw")
    for given, expected in [("pw ", "pw"), (" pw", "pw"), ("pw", "pw "), ("p w", "pw"),
                            ("pw\n", "pw"), ("pw", "\tpw")]:  # fmt: skip
        assert not access.password_matches(given, expected), (given, expected)
        assert not access.check_password(given, expected, sleep=lambda seconds: None)
