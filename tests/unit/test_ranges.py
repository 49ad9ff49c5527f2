import pytest

from proxy.api.ranges import ByteRange, parse_range
from proxy.oci.errors import ErrorCode, RegistryError


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-0", ByteRange(0, 1)),
        ("bytes=0-99", ByteRange(0, 100)),
        ("bytes=10-", ByteRange(10, 100)),
        ("bytes=-10", ByteRange(90, 100)),
        ("bytes=-1000", ByteRange(0, 100)),
        ("bytes=50-1000", ByteRange(50, 100)),
    ],
)
def test_ranges(header: str, expected: ByteRange) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize(
    "header",
    [
        "bytes=",
        "bytes=-",
        "bytes=5-1",
        "bytes=100-",
        "bytes=-0",
        "bytes=0-1,3-4",
        "bytes=a-b",
        "0-1",
    ],
)
def test_invalid_ranges(header: str) -> None:
    with pytest.raises(RegistryError) as caught:
        parse_range(header, 100)
    assert caught.value.code is ErrorCode.RANGE_INVALID
    assert caught.value.status == 416
    assert caught.value.headers["Content-Range"] == "bytes */100"


@pytest.mark.parametrize("header", ["items=0-1", "pages=1-2", "BYTE=0-1"])
def test_other_units_are_ignored(header: str) -> None:
    assert parse_range(header, 100) is None  # RFC 9110 §14.2: an origin server MUST ignore them


def test_a_suffix_range_of_an_empty_blob_is_the_whole_blob() -> None:
    assert parse_range("bytes=-5", 0) is None  # no 206 can describe zero bytes


def test_content_range() -> None:
    assert ByteRange(10, 20).content_range(100) == "bytes 10-19/100"
