"""One-time sign-in links to the office's web console, for admins only: no password to leak.

A link is `<base>/signin?token=<payload>.<mac>`. The payload names the admin (`telegram:123`), the moment the
link expires (10 minutes after it was minted) and a random nonce; the mac is HMAC-SHA256 of the payload with the
console's secret, so nobody can write a link for themselves. Redeeming spends the nonce in the database together
with starting the session (`storage.web.sign_in`): a link signs in once, even when two tabs race for it. The
identity must still be an admin when the link is redeemed.

The secret is `WEB_SECRET`, or else a random one the console writes once beside the database (`web-secret`,
mode 0600), so the command line that mints a link and the server that redeems it agree without any setting.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from bot.config import ConfigError, Identity, Settings, admin_identity
from bot.storage import Storage

log = logging.getLogger(__name__)

LINK_LIFETIME = 600  # seconds a link stays valid
SECRET_FILE = "web-secret"  # beside the database, when WEB_SECRET is not set
MIN_SECRET = 32  # characters of a WEB_SECRET we accept
SIGN_IN_PATH = "/signin"


class NotAdmin(ValueError):
    """Only identities in BOT_ADMINS get a link."""


class LinkRefused(Exception):
    """A link that does not sign anyone in. `reason`: malformed, forged, expired, used or not_admin."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class LinkClaim:
    identity: Identity
    expires: int
    nonce: str


def link_secret(settings: Settings) -> bytes:
    """WEB_SECRET (settings), or the secret kept in the data directory, created on first use."""
    given = settings.web_secret.value.strip()
    if given:
        if len(given) < MIN_SECRET:
            raise ConfigError(f"WEB_SECRET is too short: give at least {MIN_SECRET} random characters")
        return given.encode()
    return _stored_secret(settings.data_dir / SECRET_FILE)


def _stored_secret(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):  # created only once, even by two processes at the same moment
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48))
        log.info("web console: created a sign-in secret in %s", path)
    if os.name == "posix" and path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)  # readable by others: anyone who reads it can write sign-in links
        log.warning("web console: %s was readable by others; made it private (0600)", path)
    secret = path.read_text(encoding="ascii").strip()
    if len(secret) < MIN_SECRET:
        raise ConfigError(f"{path} holds no usable secret: delete it, and a new one is made")
    return secret.encode()


# -- tokens (pure) -----------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, b"web-link\0" + payload, hashlib.sha256).digest()


def make_token(secret: bytes, identity: Identity, expires: int, nonce: str | None = None) -> str:
    payload = json.dumps(
        [identity.channel, identity.external_id, expires, nonce or secrets.token_urlsafe(16)],
        separators=(",", ":"),
        ensure_ascii=True,
    ).encode()
    return f"{_b64(payload)}.{_b64(_mac(secret, payload))}"


def read_token(secret: bytes, token: str, now: int) -> LinkClaim:
    """The token's claim once its mac and expiry are checked (not whether it was used: see `redeem`)."""
    encoded, _, mac = token.strip().partition(".")
    try:
        payload = _unb64(encoded)
        given = _unb64(mac)
    except (binascii.Error, ValueError):
        raise LinkRefused("malformed") from None
    if not hmac.compare_digest(given, _mac(secret, payload)):
        raise LinkRefused("forged")
    try:
        channel, external_id, expires, nonce = json.loads(payload)
        claim = LinkClaim(Identity(str(channel), str(external_id)), int(expires), str(nonce))
    except (ValueError, TypeError):
        raise LinkRefused("malformed") from None
    if now > claim.expires:
        raise LinkRefused("expired")
    return claim


# -- links -------------------------------------------------------------------------------------------------


async def mint_link(
    settings: Settings, storage: Storage, identity: Identity, base_url: str, secret: bytes | None = None
) -> str:
    """A one-time sign-in link for an admin, valid LINK_LIFETIME seconds; NotAdmin for anyone else."""
    if not settings.is_admin(identity.channel, identity.external_id):
        raise NotAdmin(f"{identity} is not an admin (BOT_ADMINS): no link")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"the console's address {base_url!r} is not an http(s) URL (WEB_BASE_URL)")
    admin = admin_identity(identity.channel, identity.external_id)
    token = make_token(secret or link_secret(settings), admin, storage.web.now() + LINK_LIFETIME)
    await storage.web.audit(str(admin), "link")
    return f"{base_url.rstrip('/')}{SIGN_IN_PATH}?token={quote(token, safe='.')}"


async def check_link(settings: Settings, storage: Storage, token: str, secret: bytes) -> LinkClaim:
    """The link's admin if it would sign in now, without spending it (the page that asks to confirm)."""
    claim = read_token(secret, token, storage.web.now())
    if not settings.is_admin(claim.identity.channel, claim.identity.external_id):
        raise LinkRefused("not_admin")
    if await storage.web.link_used(claim.nonce):
        raise LinkRefused("used")
    return claim


async def redeem(settings: Settings, storage: Storage, token: str, secret: bytes, session_hash: str) -> Identity:
    """Spend the link and start the session stored under `session_hash`; LinkRefused says why not."""
    claim = await check_link(settings, storage, token, secret)
    if not await storage.web.sign_in(claim.nonce, str(claim.identity), claim.expires, session_hash):
        raise LinkRefused("used")
    return claim.identity
