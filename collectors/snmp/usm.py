"""SNMPv3 User-based Security Model: keys, HMAC and privacy, the parts v3.py puts in messages.

- Keys (RFC 3414 A.2): a password is stretched to a key Ku by hashing 1 MiB of it repeated,
  then localised to one agent as Kul = H(Ku || engineID || Ku). Ku is computed once per
  password (it costs a few ms); localising is one hash per engine id.
- Authentication: HMAC-MD5-96 and HMAC-SHA-96 (RFC 3414), HMAC-SHA-2 (RFC 7860: SHA-224
  truncated to 16 bytes, SHA-256 to 24, SHA-384 to 32, SHA-512 to 48), keyed with Kul.
- Privacy: DES-CBC (RFC 3414 8) and AES-CFB128 (RFC 3826), from the `cryptography` package.
  AES-192/256 need a longer key than MD5/SHA-1 give: it is extended the way net-snmp does for
  its AES-192/AES-256 (the Blumenthal draft, draft-blumenthal-aes-usm-04 3.1.2.1: append
  H(key so far) until long enough). Cisco's "Reeder" extension (net-snmp's AES-192-C) is a
  different key, and pantau does not offer it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import itertools
import os
from dataclasses import dataclass
from typing import Any

from collectors.common.openssl_on_demand import openssl_digests

# auth protocol -> (hashlib name, length of the MAC carried in msgAuthenticationParameters)
AUTH: dict[str, tuple[str, int]] = {
    "MD5": ("md5", 12), "SHA": ("sha1", 12), "SHA224": ("sha224", 16),
    "SHA256": ("sha256", 24), "SHA384": ("sha384", 32), "SHA512": ("sha512", 48),
}
# priv protocol -> localised key bytes used (DES: 8 key + 8 pre-IV)
PRIV: dict[str, int] = {"DES": 16, "AES": 16, "AES192": 24, "AES256": 32}

_SALT = itertools.count(int.from_bytes(os.urandom(8), "big"))


@functools.cache
def _ciphers() -> tuple[Any, Any, Any, Any, Any]:
    """(Cipher, AES, TripleDES, CBC, CFB), imported on first use: an agent without SNMPv3
    authPriv devices does not carry `cryptography` (tests/unit/test_lazy_imports.py)."""
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    try:  # cryptography >= 47 files CFB under "decrepit"; older releases only have it here
        from cryptography.hazmat.decrepit.ciphers.modes import CFB
    except ImportError:  # pragma: no cover - depends on the installed cryptography
        CFB = modes.CFB  # type: ignore[misc]
    return Cipher, algorithms.AES, TripleDES, modes.CBC, CFB


class PrivError(Exception):
    """Encrypted data that cannot be decrypted (wrong length or salt)."""


@functools.lru_cache(maxsize=256)
def password_to_key(password: bytes, hash_name: str) -> bytes:
    """Ku of RFC 3414 A.2.1/A.2.2 (and RFC 7860 4 for SHA-2): 1,048,576 bytes of the password
    repeated, hashed. Cached: every device polled with the same credentials shares it."""
    if not password:
        raise ValueError("an SNMPv3 password cannot be empty")
    n = 1_048_576
    return hashlib.new(hash_name, (password * (n // len(password) + 1))[:n]).digest()


def localize(ku: bytes, engine_id: bytes, hash_name: str) -> bytes:
    return hashlib.new(hash_name, ku + engine_id + ku).digest()


def extend_blumenthal(kul: bytes, size: int, hash_name: str) -> bytes:
    """A localised key made long enough for AES-192/256, as net-snmp's AES-192/AES-256."""
    while len(kul) < size:
        kul += hashlib.new(hash_name, kul).digest()
    return kul[:size]


@dataclass(frozen=True)
class User:
    """A v3 user with its passwords already turned into keys (the passwords are not kept)."""

    name: bytes
    auth: str
    auth_ku: bytes
    priv: str  # "none" for authNoPriv
    priv_ku: bytes

    @classmethod
    def make(cls, name: str, auth: str, auth_password: str, priv: str,
             priv_password: str | None) -> User:
        # an HMAC per message and 1 MiB hashed per password: on OpenSSL's digests, ~6x
        # CPython's own on a full response (the agent starts without them)
        openssl_digests()
        if auth not in AUTH:
            raise ValueError(f"unknown SNMPv3 auth protocol {auth!r}")
        if priv != "none" and priv not in PRIV:
            raise ValueError(f"unknown SNMPv3 priv protocol {priv!r}")
        h = AUTH[auth][0]
        priv_ku = b""
        if priv != "none":
            if not priv_password:
                raise ValueError(f"priv protocol {priv} needs a priv password")
            priv_ku = password_to_key(priv_password.encode(), h)
        return cls(name.encode(), auth, password_to_key(auth_password.encode(), h), priv,
                   priv_ku)

    def keys(self, engine_id: bytes) -> Keys:
        h, mac_len = AUTH[self.auth]
        priv_key = b""
        if self.priv != "none":
            priv_key = localize(self.priv_ku, engine_id, h)
            priv_key = extend_blumenthal(priv_key, PRIV[self.priv], h)[:PRIV[self.priv]]
        return Keys(h, mac_len, localize(self.auth_ku, engine_id, h), self.priv, priv_key)


@dataclass(frozen=True)
class Keys:
    """One user's keys localised to one engine id."""

    hash_name: str
    mac_len: int
    auth_key: bytes
    priv: str
    priv_key: bytes

    def mac(self, message: bytes) -> bytes:
        return hmac.digest(self.auth_key, message, self.hash_name)[:self.mac_len]

    def encrypt(self, plain: bytes, boots: int, engine_time: int) -> tuple[bytes, bytes]:
        """(msgPrivacyParameters, ciphertext) for a scopedPDU."""
        cipher, aes, des3, cbc, cfb = _ciphers()
        if self.priv == "DES":
            salt = boots.to_bytes(4, "big") + (next(_SALT) & 0xFFFFFFFF).to_bytes(4, "big")
            iv = bytes(a ^ b for a, b in zip(self.priv_key[8:16], salt, strict=True))
            plain += b"\x00" * (-len(plain) % 8)  # BER lengths make the padding harmless
            # single DES is 3DES with one key three times (8-byte keys are deprecated)
            enc = cipher(des3(self.priv_key[:8] * 3), cbc(iv)).encryptor()
            return salt, enc.update(plain) + enc.finalize()
        salt = (next(_SALT) & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big")
        enc = cipher(aes(self.priv_key), cfb(self._aes_iv(boots, engine_time, salt))).encryptor()
        return salt, enc.update(plain) + enc.finalize()

    def decrypt(self, salt: bytes, data: bytes, boots: int, engine_time: int) -> bytes:
        if len(salt) != 8:
            raise PrivError("privacy parameters are not 8 bytes")
        cipher, aes, des3, cbc, cfb = _ciphers()
        if self.priv == "DES":
            if len(data) % 8:
                raise PrivError("DES ciphertext is not a multiple of 8 bytes")
            iv = bytes(a ^ b for a, b in zip(self.priv_key[8:16], salt, strict=True))
            dec = cipher(des3(self.priv_key[:8] * 3), cbc(iv)).decryptor()
        else:
            iv = self._aes_iv(boots, engine_time, salt)
            dec = cipher(aes(self.priv_key), cfb(iv)).decryptor()
        return dec.update(data) + dec.finalize()

    @staticmethod
    def _aes_iv(boots: int, engine_time: int, salt: bytes) -> bytes:
        return boots.to_bytes(4, "big") + engine_time.to_bytes(4, "big") + salt
