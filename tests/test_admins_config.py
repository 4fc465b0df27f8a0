"""BOT_ADMINS: malformed entries are refused at start (they would never match anyone); WeCom ids ignore case."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Identity, Settings


def settings(admins: str) -> Settings:
    return Settings.from_env({"BOT_ADMINS": admins}, dotenv=None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", set()),
        ("telegram:123456789", {"telegram:123456789"}),
        ("wecom:zhangsan", {"wecom:zhangsan"}),
        ("wecom:ZhangSan", {"wecom:zhangsan"}),  # stored lower-cased: WeCom UserIDs ignore case
        ("wecom:li.si-2_x@corp@*", {"wecom:li.si-2_x@corp"}),  # a UserID with an @: its scope written out
        ("wecom:" + "a" * 64, {"wecom:" + "a" * 64}),
        ("console:sifasuo", {"console:sifasuo"}),
        ("console:办公室", {"console:办公室"}),
        (" telegram:1 , wecom:x,console:boss, ", {"telegram:1", "wecom:x", "console:boss"}),  # spaces between entries
    ],
)
def test_good_admin_entries_are_accepted(raw: str, expected: set[str]) -> None:
    assert {str(admin) for admin in settings(raw).admins} == expected


@pytest.mark.parametrize(
    ("raw", "entry", "example"),
    [
        ("telegram:@alice", "telegram:@alice", "telegram:123456789"),  # a username is not an id
        ("telegram:abc", "telegram:abc", "telegram:123456789"),
        ("telegram:-100123", "telegram:-100123", "telegram:123456789"),  # a group's id, not a user's
        ("telegram:0", "telegram:0", "telegram:123456789"),
        ("telegram:0123", "telegram:0123", "telegram:123456789"),  # Telegram sends 123: never equal
        ("telegram:１２３", "telegram:１２３", "telegram:123456789"),  # full-width digits
        ("telegram:", "telegram:", "telegram:123456789"),
        ("telegram:1;wecom:x", "telegram:1;wecom:x", "telegram:123456789,wecom:zhangsan"),
        ("telegram:1 wecom:x", "telegram:1 wecom:x", "telegram:123456789,wecom:zhangsan"),
        ("telegram: 1", "telegram: 1", "telegram:123456789,wecom:zhangsan"),
        ("wecom:张三", "wecom:张三", "wecom:zhangsan"),
        ("wecom:zhang san", "wecom:zhang san", "telegram:123456789,wecom:zhangsan"),
        ("wecom:a/b", "wecom:a/b", "wecom:zhangsan"),
        ("wecom:" + "a" * 65, "wecom:" + "a" * 65, "wecom:zhangsan"),
        ("console:", "console:", "console:sifasuo"),
        ("console:li\u3000si", "console:li\u3000si", "telegram:123456789,wecom:zhangsan"),
        ("telegram:1,wechat:x", "wechat:x", "telegram:123456789,wecom:zhangsan"),
        ("Telegram:1", "Telegram:1", "telegram:123456789,wecom:zhangsan"),
        ("123456789", "123456789", "telegram:123456789,wecom:zhangsan"),
    ],
)
def test_bad_admin_entries_stop_the_start_naming_the_entry(raw: str, entry: str, example: str) -> None:
    with pytest.raises(ConfigError) as error:
        settings(raw)
    message = str(error.value)
    assert "BOT_ADMINS" in message and repr(entry) in message
    assert f"e.g. BOT_ADMINS={example}" in message


@pytest.mark.parametrize(
    ("admins", "channel", "external_id", "admin"),
    [
        ("wecom:zhangsan", "wecom", "ZhangSan", True),
        ("wecom:ZhangSan", "wecom", "zhangsan", True),
        ("wecom:ZhangSan", "wecom", "ZHANGSAN", True),
        ("wecom:zhangsan", "wecom", "lisi", False),
        ("wecom:zhangsan", "console", "ZhangSan", False),  # only WeCom ignores case
        ("console:Boss", "console", "boss", False),
        ("console:Boss", "console", "Boss", True),
        ("telegram:123", "telegram", "123", True),
        ("telegram:123", "wecom", "123", False),
    ],
)
def test_is_admin(admins: str, channel: str, external_id: str, admin: bool) -> None:
    assert settings(admins).is_admin(channel, external_id) is admin


def test_settings_built_directly_compare_wecom_ids_the_same_way() -> None:
    direct = Settings(admins=frozenset({Identity("wecom", "ZhangSan")}))
    assert direct.is_admin("wecom", "zhangsan") and direct.is_admin("wecom", "ZhangSan")


def test_admins_scoped_to_a_township_and_county_admins() -> None:
    chosen = settings("telegram:1@zhoujiadian,wecom:ZhangSan@hexi-town,console:boss,telegram:2@*,wecom:li@corp@*")
    assert {str(a) for a in chosen.admins} == {
        "telegram:1",
        "wecom:zhangsan",
        "console:boss",
        "telegram:2",
        "wecom:li@corp",
    }
    assert chosen.township_of_admin(Identity("telegram", "1")) == "zhoujiadian"
    assert chosen.township_of_admin(Identity("wecom", "ZHANGSAN")) == "hexi-town"  # WeCom ids ignore case
    for county in ("console:boss", "telegram:2", "wecom:li@corp"):
        channel, _, external = county.partition(":")
        assert chosen.township_of_admin(Identity(channel, external)) is None
    assert chosen.is_admin("telegram", "1") and not chosen.is_admin("telegram", "3")


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("telegram:1@Zhou Jia", "a space inside"),
        ("telegram:1@周家店", "not an id"),
        ("telegram:1@", "not an id"),
        ("telegram:1@a,telegram:1@b", "twice with different townships"),
    ],
)
def test_bad_township_scopes_are_refused(raw: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        settings(raw)
