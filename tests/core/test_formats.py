"""Number and time formats for every screen and report: written out by hand, not by Python's
own format specifiers (which give `3e-05` and `-0.00`)."""

from __future__ import annotations

import pytest

from livegate.core.formats import money, number, pct, when


@pytest.mark.parametrize("value, expected", [
    (3e-05, "0.00003"),
    (-0.0, "0.00"),
    (-0.001, "-0.001"),  # a loss too small for cents is still a loss, not "-0.00"
    (-0.0000001, "-0.0000001"),
    (0.0, "0.00"),
    (1234.5, "1,234.50"),
    (-1234.567, "-1,234.57"),
    (0.004, "0.004"),
    (0.0000346, "0.000035"),
    (1_000_000.0, "1,000,000.00"),
    (5, "5.00"),
    (None, "—"),
])
def test_money(value, expected):
    assert money(value) == expected


@pytest.mark.parametrize("value, expected", [(12.5, "+12.50"), (-12.5, "-12.50"), (0.0, "0.00"), (-0.0, "0.00")])
def test_money_with_sign(value, expected):
    assert money(value, sign=True) == expected


@pytest.mark.parametrize("value, decimals, expected", [
    (12.3456, 2, "12.35 %"),
    (-0.0, 2, "0.00 %"),
    (-0.001, 2, "-0.001 %"),
    (5, 2, "5.00 %"),
    (10.0, 0, "10 %"),
    (57.14, 1, "57.1 %"),
    (None, 2, "—"),
])
def test_pct(value, decimals, expected):
    assert pct(value, decimals) == expected


@pytest.mark.parametrize("value, expected", [
    (3e-05, "0.00003"),
    (-0.0, "0"),
    (0.5, "0.5"),
    (1234.5678, "1,235"),
    (12345.6, "12,346"),  # Python's 4 significant digits would say 1.235e+04
    (1e6 + 0.4, "1,000,000"),
    (0.000123456, "0.0001235"),
    (-2.5e-06, "-0.0000025"),
    (42, "42"),
    (1234567, "1,234,567"),
    (True, "yes"),
    (None, "—"),
    ([0.25, 3e-05], "[0.25, 0.00003]"),
    ("ok", "ok"),
])
def test_number(value, expected):
    assert number(value) == expected


def test_number_to_more_digits():
    assert number(0.0012345678, 6) == "0.00123457"
    assert number(3e-05, 6) == "0.00003"


@pytest.mark.parametrize("iso, expected", [
    ("2026-03-04T05:06:07.891011Z", "2026-03-04 05:06:07"),
    ("2026-03-04T05:06:07Z", "2026-03-04 05:06:07"),
    ("2026-03-04T05:06:07+00:00", "2026-03-04 05:06:07"),
    (None, ""),
])
def test_when(iso, expected):
    assert when(iso) == expected
