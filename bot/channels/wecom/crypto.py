"""WeCom's callback encryption (企业微信 加解密方案), on the `cryptography` package.

signature = sha1 of the sorted strings [token, timestamp, nonce, encrypted], compared in constant time;
AES-256-CBC with key = base64(EncodingAESKey + "="), IV = the key's first 16 bytes; PKCS#7 padding to
32-byte blocks; plaintext = 16 random bytes | 4-byte big-endian length | message | receive id (the corp id).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32


class CallbackError(ValueError):
    """A callback that must be refused (bad signature, padding, receive id...); the message says which."""


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


class WeComCrypto:
    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        if len(encoding_aes_key) != 43:
            raise ValueError("WECOM_AES_KEY must be the 43-character EncodingAESKey")
        self.token = token
        self.key = base64.b64decode(encoding_aes_key + "=")
        self.receive_id = receive_id

    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = signature(self.token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected.encode(), (msg_signature or "").encode()):
            raise CallbackError("wrong signature")

    def decrypt(self, encrypted: str) -> str:
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):
            raise CallbackError("ciphertext is not base64") from None
        if not data or len(data) % 16:
            raise CallbackError("ciphertext length is not a multiple of the AES block")
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise CallbackError("bad padding")
        plain = plain[:-pad]
        if len(plain) < 20:
            raise CallbackError("plaintext too short")
        (length,) = struct.unpack(">I", plain[16:20])
        message, receive_id = plain[20 : 20 + length], plain[20 + length :]
        if len(message) != length:
            raise CallbackError("bad message length")
        if not hmac.compare_digest(receive_id, self.receive_id.encode()):
            raise CallbackError("wrong receive id")
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError:
            raise CallbackError("message is not UTF-8") from None

    def encrypt(self, message: str, random16: bytes | None = None) -> str:
        random16 = random16 if random16 is not None else os.urandom(16)
        body = message.encode()
        plain = random16 + struct.pack(">I", len(body)) + body + self.receive_id.encode()
        pad = BLOCK - len(plain) % BLOCK
        plain += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()
