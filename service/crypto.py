"""Encryption of tokens at rest (Fernet: AES-128-CBC + HMAC-SHA256) and id hashing.

`TOKEN_ENCRYPTION_KEYS` is a list: the first key encrypts, every key decrypts, so a new
key can be put first and old rows re-encrypted later (`looker-bff rotate-keys`) without
logging anyone out.
"""

from __future__ import annotations

import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = ["InvalidToken", "TokenCipher", "hash_id", "new_opaque_id"]


class TokenCipher:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one key is required")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        return self._fernet.decrypt(ciphertext).decode()

    def rotate(self, ciphertext: bytes) -> bytes:
        """Re-encrypt under the first key."""
        return self._fernet.rotate(ciphertext)


def new_opaque_id() -> str:
    """256 random bits, url-safe: the session cookie's value."""
    return secrets.token_urlsafe(32)


def hash_id(value: str) -> bytes:
    """What the database stores instead of an opaque id (a random 256-bit id needs no salt)."""
    return hashlib.sha256(value.encode()).digest()
