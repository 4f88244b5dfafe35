"""Units: the size labels models are named by, byte labels, and sizes and counts typed by users."""

import pytest

from paramscope.errors import UsageError
from paramscope.units import bytes_label, decimal_label, hours_label, parse_bytes, parse_count, size_label


@pytest.mark.parametrize(("params", "label"), [
    (268_098_176, "268M"),
    (8_030_261_248, "8.03B"),
    (70_553_706_496, "70.6B"),
    (405_853_388_800, "406B"),
    (46_702_792_704, "46.7B"),
    (671_026_419_200, "671B"),
    (22_713_216, "22.7M"),
    (27_432_406_640, "27.4B"),
    (124_439_808, "124M"),
    (999_600_000, "1B"),
    (1_000_000_000, "1B"),
    (2_000_000_000_000, "2T"),
    (1_500, "1.5K"),
    (999, "999"),
    (0, "0"),
])
def test_size_label(params, label):
    assert size_label(params) == label


@pytest.mark.parametrize(("n", "label"), [
    (0, "0 B"), (1023, "1023 B"), (1536, "1.50 KiB"), (233_319_424, "222.51 MiB"),
    (3 * 1024**3, "3.00 GiB"),
])
def test_bytes_label(n, label):
    assert bytes_label(n) == label


@pytest.mark.parametrize(("n", "label"), [
    (0, "0 B"), (999, "999 B"), (1_500, "1.50 KB"), (24 * 2**30, "25.77 GB"), (2_500_000, "2.50 MB"),
])
def test_decimal_label(n, label):
    assert decimal_label(n) == label


@pytest.mark.parametrize(("text", "expected"), [("8GB", 8 * 10**9), ("7.5GiB", int(7.5 * 2**30)),
                                                ("500MB", 5 * 10**8), ("64 gib", 64 << 30),
                                                ("1e3b", 1000), (1024, 1024)])
def test_parse_bytes(text, expected):
    assert parse_bytes(text) == expected


def test_a_bare_number_needs_a_unit():
    """'64' could be 64 GB or 64 GiB (7 % apart): the message offers both spellings."""
    with pytest.raises(UsageError, match=r"64GiB .* or 64GB"):
        parse_bytes("64", "RAM size")


@pytest.mark.parametrize("text", ["8 parsecs", "", "GB", "-1GB", "0GB", 0, "64"])
def test_parse_bytes_refuses_nonsense(text):
    with pytest.raises(UsageError):
        parse_bytes(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("10M", 10_000_000), ("2.5B", 2_500_000_000), ("15T", 15 * 10**12), ("1e7", 10_000_000),
    ("10,000,000", 10_000_000), ("100k", 100_000), ("3G", 3 * 10**9), (1e9, 10**9), ("42", 42),
])
def test_parse_count(text, expected):
    assert parse_count(text) == expected


@pytest.mark.parametrize("text", ["10X", "", "M", "-5M", "0", "1e400", "nan"])
def test_parse_count_refuses_nonsense(text):
    with pytest.raises(UsageError):
        parse_count(text)


@pytest.mark.parametrize(("hours", "label"), [
    (1.36, "1.36 hours"), (0.5, "30 minutes"), (0.001, "3.6 seconds"), (100, "4.17 days"),
    (20_000, "2.28 years"), (47.9, "47.9 hours"), (5_000, "208 days"),
])
def test_hours_label(hours, label):
    assert hours_label(hours) == label
