"""Units: the size labels models are named by, byte labels, and sizes typed by users."""

import pytest

from paramscope.errors import UsageError
from paramscope.units import bytes_label, parse_bytes, size_label


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


@pytest.mark.parametrize(("text", "expected"), [("8GB", 8 * 10**9), ("7.5GiB", int(7.5 * 2**30)),
                                                ("500MB", 5 * 10**8), ("1024", 1024), ("64 gib", 64 << 30),
                                                ("1e3", 1000)])
def test_parse_bytes(text, expected):
    assert parse_bytes(text) == expected


def test_parse_bytes_default_unit():
    assert parse_bytes("64", "GiB") == parse_bytes(64, "GiB") == 64 << 30
    assert parse_bytes("64GB", "GiB") == 64 * 10**9  # a unit given wins


@pytest.mark.parametrize("text", ["8 parsecs", "", "GB", "-1GB", "0"])
def test_parse_bytes_refuses_nonsense(text):
    with pytest.raises(UsageError):
        parse_bytes(text)
