"""Settings: environment first, then a `.env` file, then defaults.

Tests build `Settings.from_env({...})` from a plain dict instead of patching
os.environ. Secrets are wrapped in `Secret`, whose repr never shows the value.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(ValueError):
    """A setting with a value we cannot use; the message names the variable."""


@dataclass(frozen=True)
class Secret:
    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('**********')" if self.value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self.value)


@dataclass(frozen=True)
class Identity:
    """A resident on one channel: ('telegram', '12345')."""

    channel: str
    external_id: str

    def __str__(self) -> str:
        return f"{self.channel}:{self.external_id}"


ADMINS_EXAMPLE = "telegram:123456789,wecom:zhangsan,console:sifasuo"
# What each channel's ids look like, and an example for the error message. A malformed entry never matches anyone,
# so it is refused at start instead of silently leaving the office without an admin.
_ADMIN_IDS: dict[str, tuple[re.Pattern[str], str, str]] = {
    "telegram": (
        re.compile(r"[1-9][0-9]*"),
        "a Telegram user id is a positive number, not a @username (ask @userinfobot)",
        "telegram:123456789",
    ),
    # WeCom member UserID: letters, digits, _ - . @, 1-64 characters; case-insensitive in WeCom.
    "wecom": (re.compile(r"[A-Za-z0-9_.@-]{1,64}"), "a WeCom UserID is 1-64 of A-Z a-z 0-9 _ - . @", "wecom:zhangsan"),
    "console": (re.compile(r"\S+"), "a console name is the --user name, without spaces", "console:sifasuo"),
}


def admin_identity(channel: str, external_id: str) -> Identity:
    """How an admin is stored and looked up: WeCom UserIDs lower-cased (WeCom ignores their case)."""
    return Identity(channel, external_id.lower() if channel == "wecom" else external_id)


COUNTY = "*"  # an admin entry's explicit "every township" (`wecom:li@corp@*`: a WeCom UserID that has an @)
_TOWNSHIP_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}|\*")


def parse_admin_entries(raw: str) -> dict[Identity, str | None]:
    """`telegram:123456789,wecom:zhangsan@zhoujiadian,console:sifasuo` → each admin and their township (None: the
    whole deployment, a county admin). The last `@` of an entry starts its township; a WeCom UserID that has an @
    of its own is written with one (`wecom:li@corp@*` for county-wide). A ConfigError names the first bad entry."""
    admins: dict[Identity, str | None] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        channel, sep, rest = part.partition(":")
        external_id, at, township = rest.rpartition("@")
        if not at:
            external_id, township = rest, ""
        known = _ADMIN_IDS.get(channel)
        example = ADMINS_EXAMPLE
        if ";" in part or any(c.isspace() for c in part):
            problem = "has a ';' or a space inside: separate admins with commas"
        elif not sep or known is None:
            problem = "is not channel:id with channel telegram, wecom or console"
        elif at and not _TOWNSHIP_ID.fullmatch(township):
            problem, example = "names a township that is not an id (a-z, 0-9, - and _)", "telegram:123@zhoujiadian"
        elif not known[0].fullmatch(external_id):
            problem, example = f"is not valid: {known[1]}", known[2]
        else:
            identity = admin_identity(channel, external_id)
            scope = None if township in ("", COUNTY) else township
            if identity in admins and admins[identity] != scope:
                problem = "is listed twice with different townships"
            else:
                admins[identity] = scope
                continue
        raise ConfigError(f"BOT_ADMINS entry {part!r} {problem} (e.g. BOT_ADMINS={example})")
    return admins


def parse_admins(raw: str) -> frozenset[Identity]:
    """The admins of BOT_ADMINS, whatever their township (see parse_admin_entries)."""
    return frozenset(parse_admin_entries(raw))


def _choice(value: str, variable: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"{variable}={value!r} is not one of {', '.join(allowed)}")
    return value


def _zone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"BOT_TIMEZONE={name!r} is not a time zone (e.g. Asia/Shanghai)") from None
    return name


def _number(value: str, variable: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not low <= number <= high:
        raise ConfigError(f"{variable}={value!r} is not a number from {low:g} to {high:g}")
    return number


def _flag(value: str | None, variable: str) -> bool:
    if value is None:
        return False
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{variable}={value!r} is not a yes/no value (use 1 or 0)")


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=value lines; # comments and blank lines ignored; optional quotes stripped."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip().removeprefix("export ").strip()] = value
    return values


def is_database_url(value: str) -> bool:
    """BOT_DB names a PostgreSQL server rather than a SQLite file."""
    return value.startswith(("postgresql://", "postgres://"))


@dataclass(frozen=True)
class Settings:
    db_path: Path = Path("data/bot.sqlite3")
    # BOT_DB may instead be a PostgreSQL URL (postgresql://user:pass@host/db): several bot processes, one database.
    # Kept as a Secret (it may hold a password); `database` is what Storage.open takes.
    db_url: Secret = Secret("")
    # Files the bot writes besides the database (web-secret, charts, certificates, spilled events): BOT_DATA_DIR,
    # else the SQLite file's folder, else ./data.
    data_dir_setting: Path | None = None
    content_dir: Path = Path("content")
    admins: frozenset[Identity] = frozenset()
    # Admins scoped to one township (BOT_ADMINS `telegram:123@zhoujiadian`): (identity, township id); the others see
    # the whole deployment (a county's 司法局).
    admin_townships: tuple[tuple[str, str], ...] = ()
    town: str | None = None  # overrides places.yaml's town when set
    log_level: str | None = None  # None: INFO for `run`, WARNING for interactive commands
    telegram_token: Secret = Secret("")
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_webhook_url: str | None = None
    telegram_listen: str = "127.0.0.1:8443"
    telegram_webhook_secret: Secret = Secret("")
    telegram_proxy: str | None = None
    telegram_http_backend: str = "aiohttp"  # or "httpx" (PTB's default); SOCKS proxies always use httpx
    timezone: str = "Asia/Shanghai"  # the town's clock: campaign times and --at are read in it
    broadcast_rate: float = 25.0  # messages per second for broadcasts (Telegram allows about 30)
    broadcast_batch: int = 25  # recipients per batch: also the most a crash can send twice
    flood_limit: int = 30  # messages and presses per resident per minute; beyond it a polite pause, no replies
    shutdown_grace: float = 5.0  # seconds a stop waits for replies and the broadcast batch in hand, then exits
    broadcast_lease: int = 30  # seconds before another process may resume a broadcast whose sender went silent
    flush_interval: float = 0.05  # seconds a delivery's reach event waits at most before it is committed
    flush_size: int = 500  # buffered reach events that start a commit at once
    telegram_quiz_polls: bool = False  # quiz questions as native Telegram quiz polls instead of buttons
    telegram_rate: float = 30.0  # Telegram's overall limit, messages/s: one budget for replies and broadcasts; 0 = none
    telegram_reply_horizon: float = 60.0  # seconds a reply may wait (budget, 429s) before it is given up
    wecom_corp_id: str = ""
    wecom_agent_id: int = 0
    wecom_secret: Secret = Secret("")
    wecom_token: Secret = Secret("")
    wecom_aes_key: Secret = Secret("")
    wecom_listen: str = "127.0.0.1:8090"
    wecom_callback_path: str = "/wecom/callback"
    wecom_api_base_url: str = "https://qyapi.weixin.qq.com"
    wecom_replay_window: int = 300  # seconds; 0 turns the check off (known-answer tests)
    # 微信客服: the kf account the bot serves, and its own callback (Token, EncodingAESKey, path); the access token
    # comes from the corp id and WECOM_SECRET (the self-built app the kf account is handed to).
    wecom_kf_open_kfid: str = ""
    wecom_kf_token: Secret = Secret("")
    wecom_kf_aes_key: Secret = Secret("")
    wecom_kf_callback_path: str = "/wecom/kf"
    wecom_kf_listen: str = "127.0.0.1:8091"  # its own port: the app channel's server is started on its own
    broadcast_defer_days: int = 7  # a broadcast that missed a 微信客服 window waits this long for a reply; 0 = never
    ledger_max_count: int = 5000  # a 普法台账 count above this is refused as implausible unless forced
    # The office's web console (docs/web.md): served by `bot run` when WEB_LISTEN is set; WEB_BASE_URL is the address
    # admins open (sign-in links point there); WEB_SECRET signs them (else a secret kept beside the database).
    web_listen: str = ""
    web_base_url: str = "http://127.0.0.1:8080"
    web_secret: Secret = Secret("")

    @property
    def database(self) -> str:
        """The SQLite path or the PostgreSQL URL, as `Storage.open` takes it."""
        return self.db_url.value or str(self.db_path)

    @property
    def data_dir(self) -> Path:
        if self.data_dir_setting is not None:
            return self.data_dir_setting
        return Path("data") if self.db_url else self.db_path.parent

    def __post_init__(self) -> None:
        # Settings built directly (tests, tools) store admins the way parse_admins does.
        object.__setattr__(self, "admins", frozenset(admin_identity(a.channel, a.external_id) for a in self.admins))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")) -> Settings:
        env: dict[str, str] = {}
        if dotenv is not None:
            env.update(read_dotenv(dotenv))
        env.update(os.environ if environ is None else environ)

        def get(key: str) -> str | None:
            value = env.get(key, "").strip()
            return value or None

        defaults = cls()
        database = get("BOT_DB") or str(defaults.db_path)
        url = database if is_database_url(database) else ""
        data_dir = get("BOT_DATA_DIR")
        return cls(
            db_path=defaults.db_path if url else Path(database),
            db_url=Secret(url),
            data_dir_setting=Path(data_dir) if data_dir else None,
            content_dir=Path(get("BOT_CONTENT_DIR") or defaults.content_dir),
            admins=frozenset(entries := parse_admin_entries(get("BOT_ADMINS") or "")),
            admin_townships=tuple(sorted((str(a), t) for a, t in entries.items() if t)),
            town=get("BOT_TOWN"),
            log_level=(get("BOT_LOG_LEVEL") or "").upper() or None,
            telegram_token=Secret(get("TELEGRAM_BOT_TOKEN") or ""),
            telegram_api_base_url=get("TELEGRAM_API_BASE_URL") or defaults.telegram_api_base_url,
            telegram_webhook_url=get("TELEGRAM_WEBHOOK_URL"),
            telegram_listen=get("TELEGRAM_LISTEN") or defaults.telegram_listen,
            telegram_webhook_secret=Secret(get("TELEGRAM_WEBHOOK_SECRET") or ""),
            telegram_proxy=get("TELEGRAM_PROXY"),
            timezone=_zone(get("BOT_TIMEZONE") or "Asia/Shanghai"),
            broadcast_rate=_number(get("BROADCAST_RATE") or "25", "BROADCAST_RATE", 0.1, 100_000),
            broadcast_batch=int(_number(get("BROADCAST_BATCH") or "25", "BROADCAST_BATCH", 1, 1000)),
            flood_limit=int(_number(get("BOT_FLOOD_LIMIT") or "30", "BOT_FLOOD_LIMIT", 1, 10000)),
            shutdown_grace=_number(get("BOT_SHUTDOWN_GRACE") or "5", "BOT_SHUTDOWN_GRACE", 0.1, 600),
            broadcast_lease=int(_number(get("BROADCAST_LEASE") or "30", "BROADCAST_LEASE", 1, 3600)),
            flush_interval=_number(get("BOT_FLUSH_INTERVAL") or "0.05", "BOT_FLUSH_INTERVAL", 0.001, 10),
            flush_size=int(_number(get("BOT_FLUSH_SIZE") or "500", "BOT_FLUSH_SIZE", 1, 100_000)),
            telegram_quiz_polls=_flag(get("TELEGRAM_QUIZ_POLLS"), "TELEGRAM_QUIZ_POLLS"),
            telegram_rate=_number(get("TELEGRAM_RATE") or "30", "TELEGRAM_RATE", 0, 100_000),
            telegram_reply_horizon=_number(get("TELEGRAM_REPLY_HORIZON") or "60", "TELEGRAM_REPLY_HORIZON", 1, 3600),
            wecom_corp_id=get("WECOM_CORP_ID") or "",
            wecom_agent_id=int(_number(get("WECOM_AGENT_ID") or "0", "WECOM_AGENT_ID", 0, 10**10)),
            wecom_secret=Secret(get("WECOM_SECRET") or ""),
            wecom_token=Secret(get("WECOM_TOKEN") or ""),
            wecom_aes_key=Secret(get("WECOM_AES_KEY") or ""),
            wecom_listen=get("WECOM_LISTEN") or defaults.wecom_listen,
            wecom_callback_path=get("WECOM_CALLBACK_PATH") or defaults.wecom_callback_path,
            wecom_api_base_url=get("WECOM_API_BASE_URL") or defaults.wecom_api_base_url,
            wecom_replay_window=int(_number(get("WECOM_REPLAY_WINDOW") or "300", "WECOM_REPLAY_WINDOW", 0, 86400)),
            wecom_kf_open_kfid=get("WECOM_KF_OPEN_KFID") or "",
            wecom_kf_token=Secret(get("WECOM_KF_TOKEN") or ""),
            wecom_kf_aes_key=Secret(get("WECOM_KF_AES_KEY") or ""),
            wecom_kf_callback_path=get("WECOM_KF_CALLBACK_PATH") or defaults.wecom_kf_callback_path,
            wecom_kf_listen=get("WECOM_KF_LISTEN") or defaults.wecom_kf_listen,
            broadcast_defer_days=int(_number(get("BROADCAST_DEFER_DAYS") or "7", "BROADCAST_DEFER_DAYS", 0, 30)),
            ledger_max_count=int(_number(get("LEDGER_MAX_COUNT") or "5000", "LEDGER_MAX_COUNT", 1, 10**9)),
            web_listen=get("WEB_LISTEN") or "",
            web_base_url=(get("WEB_BASE_URL") or defaults.web_base_url).rstrip("/"),
            web_secret=Secret(get("WEB_SECRET") or ""),
            telegram_http_backend=_choice(
                get("TELEGRAM_HTTP_BACKEND") or "aiohttp", "TELEGRAM_HTTP_BACKEND", ("aiohttp", "httpx")
            ),
        )

    @property
    def zone(self) -> dt.tzinfo:
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.timezone)

    @property
    def zone_offset(self) -> int:
        """Seconds east of UTC now (monthly roll-ups use it; exact for zones without summer time)."""
        offset = dt.datetime.now(self.zone).utcoffset()
        return int(offset.total_seconds()) if offset else 0

    @property
    def wecom_configured(self) -> bool:
        return bool(
            self.wecom_corp_id and self.wecom_agent_id and self.wecom_secret and self.wecom_token and self.wecom_aes_key
        )

    @property
    def wecom_kf_configured(self) -> bool:
        return bool(
            self.wecom_corp_id
            and self.wecom_secret
            and self.wecom_kf_open_kfid
            and self.wecom_kf_token
            and self.wecom_kf_aes_key
        )

    @property
    def broadcast_channels(self) -> list[str]:
        """Channels that receive broadcasts: the configured messaging channels, never the console."""
        return (
            (["telegram"] if self.telegram_token else [])
            + (["wecom"] if self.wecom_configured else [])
            + (["wecom_kf"] if self.wecom_kf_configured else [])
        )

    def township_of_admin(self, identity: Identity) -> str | None:
        """The township an admin may see and act for; None for a county admin (everything)."""
        key = str(admin_identity(identity.channel, identity.external_id))
        return next((township for admin, township in self.admin_townships if admin == key), None)

    def is_admin(self, channel: str, external_id: str) -> bool:
        """WeCom UserIDs compare case-insensitively (`wecom:zhangsan` is ZhangSan); other ids exactly."""
        return admin_identity(channel, external_id) in self.admins
