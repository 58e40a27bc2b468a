"""Encryption at rest for secrets and private words (ICS addresses, notes, reflections).

MultiFernet: the first key encrypts, every key decrypts, so keys rotate by putting a new
key first and re-encrypting at leisure (:meth:`Vault.rotate`).
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class VaultError(RuntimeError):
    """Stored data cannot be decrypted with any configured key."""


class Vault:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        fernets = [Fernet(k.encode()) for k in keys]
        self._newest = fernets[0]
        self._fernet = MultiFernet(fernets)

    @staticmethod
    def new_key() -> str:
        return Fernet.generate_key().decode()

    def seal(self, text: str) -> bytes:
        return self._fernet.encrypt(text.encode())

    def open(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken as exc:
            raise VaultError("stored data does not decrypt with any configured key") from exc

    def is_current(self, token: bytes) -> bool:
        """Whether ``token`` is already encrypted under the newest key (nothing to rotate)."""
        try:
            self._newest.decrypt(token)
        except InvalidToken:
            return False
        return True

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt ``token`` under the newest key."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken as exc:
            raise VaultError("stored data does not decrypt with any configured key") from exc
