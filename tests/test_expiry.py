"""url_expiry: the deadline a signed video URL states about itself."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tui.core.expiry import url_expiry

BASE = "https://bucket.tos-cn-beijing.volces.com/v/cgt-1.mp4"


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            f"{BASE}?X-Tos-Algorithm=TOS4-HMAC-SHA256&X-Tos-Date=20260427T111500Z"
            "&X-Tos-Expires=86400&X-Tos-Signature=abc",
            at(2026, 4, 28, 11, 15),
            id="tos",
        ),
        pytest.param(
            f"{BASE}?X-Amz-Date=20260427T111500Z&X-Amz-Expires=3600&X-Amz-Signature=abc",
            at(2026, 4, 27, 12, 15),
            id="amz",
        ),
        pytest.param(f"{BASE}?Expires=1777374900&Signature=x", at(2026, 4, 28, 11, 15), id="epoch"),
        pytest.param(
            f"{BASE}?x-tos-date=20260427T111500Z&x-tos-expires=60",
            at(2026, 4, 27, 11, 16),
            id="lower-case-names",
        ),
        pytest.param(
            f"{BASE}?X-TOS-DATE=20260427T111500Z&X-TOS-EXPIRES=60",
            at(2026, 4, 27, 11, 16),
            id="upper-case-names",
        ),
        pytest.param(f"{BASE}?expires=1777374900", at(2026, 4, 28, 11, 15), id="expires-lower"),
        pytest.param(
            f"{BASE}?X-Tos-Date=20260427T111500Z&X-Tos-Expires=86400&Expires=1777291200",
            at(2026, 4, 27, 12, 0),
            id="earliest-of-two-wins",
        ),
        pytest.param(
            f"{BASE}?X-Tos-Credential=AK%2F20260427%2Fcn%2Ftos%2Frequest"
            "&X-Tos-Date=20260427T111500Z&X-Tos-Expires=86400#frag",
            at(2026, 4, 28, 11, 15),
            id="encoded-and-fragment",
        ),
        pytest.param(
            f"{BASE}?X-Tos-Date=20260427T111500Z&X-Tos-Expires=0",
            at(2026, 4, 27, 11, 15),
            id="zero-seconds",
        ),
    ],
)
def test_deadline_from_query(url: str, expected: datetime) -> None:
    assert url_expiry(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        12345,
        BASE,
        "https://cdn.example.com/videos/video_fd35ee52.mp4",
        "https://ark-acg-cn-beijing.tos-cn-beijing.volces.com/...mp4?...",
        "https://...vod.cn-north-1.volcvideo.com/...?preview=1&auth_key=...",
        f"{BASE}?X-Tos-Date=20260427T111500Z",  # no Expires half
        f"{BASE}?X-Tos-Expires=86400",  # no Date half
        f"{BASE}?X-Tos-Date=2026-04-27&X-Tos-Expires=86400",  # wrong date form
        f"{BASE}?X-Tos-Date=20261327T111500Z&X-Tos-Expires=86400",  # month 13
        f"{BASE}?X-Amz-Date=20260427T111500Z&X-Amz-Expires=-5",
        f"{BASE}?X-Amz-Date=20260427T111500Z&X-Amz-Expires=abc",
        f"{BASE}?X-Amz-Date=20260427T111500Z&X-Amz-Expires=%C2%B2",  # '²' is a digit to isdigit()
        f"{BASE}?X-Amz-Date=99991231T235959Z&X-Amz-Expires=999999999999",  # past year 9999
        f"{BASE}?Expires=",
        f"{BASE}?Expires=soon",
        f"{BASE}?Expires=0",
        f"{BASE}?Expires=" + "9" * 400,
        "http://[::1/broken?Expires=1777374900",  # urlsplit refuses it
    ],
)
def test_no_deadline(url: object) -> None:
    assert url_expiry(url) is None  # type: ignore[arg-type]
