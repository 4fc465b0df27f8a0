from __future__ import annotations

import pytest

from bot.core.payloads import MAX_BYTES, Action, Payload, decode, encode


@pytest.mark.parametrize(
    ("action", "args"),
    [(Action.MENU, ()), (Action.TIP, ("fz-shuadan",)), (Action.PLACES, (3,)), (Action.TOGGLE_TOPIC, ("anti-drug",))],
)
def test_round_trip(action: Action, args: tuple) -> None:
    data = encode(action, *args)
    assert len(data.encode()) <= MAX_BYTES
    assert decode(data) == Payload(action, tuple(str(a) for a in args))


@pytest.mark.parametrize(
    "data",
    ["", None, "zz", "tp", "tp:a:b", "m:extra", "tp:BAD_ID", "tp:" + "a" * 70, "tp:'; DROP TABLE x;--", "💣", "tp:😀"],
)
def test_forged_or_malformed_payloads_decode_to_none(data: str | None) -> None:
    assert decode(data) is None


def test_encode_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError):
        encode(Action.TIP)
    with pytest.raises(ValueError):
        encode(Action.TIP, "has:colon")
