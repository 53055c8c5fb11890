"""Personal data is sealed before it reaches an event, so erasing one key makes it unreadable everywhere.

Each complaint gets its own key (``new_key``); the key lives in a key store outside the event stream.
Erasing the key (crypto-shredding) is how Levee forgets a person without rewriting history.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import unicodedata
from base64 import b64decode, b64encode
from dataclasses import dataclass, fields

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
_NOT_DIGIT = re.compile(r"\D")


@dataclass(frozen=True)
class PersonalData:
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None

    def __repr__(self) -> str:
        # Reprs end up in logs and tracebacks: say which fields are present, never their values.
        shown = ", ".join(f"{f.name}={'<set>' if getattr(self, f.name) else None}" for f in fields(self))
        return f"PersonalData({shown})"

    __str__ = __repr__

    def guarded(self) -> list[str]:
        """What public text must never carry (the redaction guard's list, in clear or as an erased person's
        fingerprints: the same fields for both)."""
        return [v for v in (self.name, self.address, self.phone, self.email) if v]


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def seal(data: PersonalData, key: bytes) -> str:
    """AES-256-GCM ciphertext of the data as base64 text (nonce and tag included)."""
    # By hand, not asdict (which deep-copies): the same bytes for a fraction of the cost.
    clear = {"name": data.name, "phone": data.phone, "email": data.email, "address": data.address}
    plaintext = json.dumps(clear, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    nonce = os.urandom(NONCE_BYTES)
    encrypted_and_tag = _aes(key).encrypt(nonce, plaintext, None)
    # Laid out as eventsourcing's AESCipher does (nonce, tag, ciphertext), so either can open the other's.
    sealed = nonce + encrypted_and_tag[-TAG_BYTES:] + encrypted_and_tag[:-TAG_BYTES]
    return b64encode(sealed).decode("ascii")


def unseal(sealed: str, key: bytes | None) -> PersonalData | None:
    """The clear data, or None when the key was erased.

    A wrong key or damaged ciphertext raises ValueError: that is a fault to surface, not an erasure.
    """
    if key is None:
        return None
    raw = b64decode(sealed.encode("ascii"), validate=True)
    if len(raw) < NONCE_BYTES + TAG_BYTES:
        raise ValueError("damaged sealed data: too short")
    nonce, tag, encrypted = (
        raw[:NONCE_BYTES],
        raw[NONCE_BYTES : NONCE_BYTES + TAG_BYTES],
        raw[NONCE_BYTES + TAG_BYTES :],
    )
    try:
        plaintext = _aes(key).decrypt(nonce, encrypted + tag, None)
    except InvalidTag:
        raise ValueError("wrong key or damaged sealed data") from None
    return PersonalData(**json.loads(plaintext.decode("utf-8")))


def contact_hash(phone_or_email: str, secret: bytes) -> str:
    """Keyed hash of a normalised phone or email, so duplicates match without storing the contact.

    Keyed (HMAC) rather than a plain hash because phone numbers are few enough to brute-force.
    """
    if not secret:
        raise ValueError("contact_hash needs a non-empty secret")
    normalised = _normalise_contact(phone_or_email)
    if not normalised:
        raise ValueError("nothing to hash: the contact is empty")
    return hmac.digest(secret, normalised.encode("utf-8"), "sha256").hex()


def caller_key(keyed_contact_hash: str) -> str:
    """What a read model stores to find a caller's complaints: a hash of the keyed hash, never the number.

    The read model thus holds neither the contact nor the event's own hash; the API, which holds the
    deployment's secret, recomputes both from the number a caller gives.
    """
    return hashlib.sha256(b"levee-caller:" + keyed_contact_hash.encode("ascii")).hexdigest()


def _normalise_contact(value: str) -> str:
    value = value.strip()
    if "@" in value:
        return value.lower()
    # "+852 1234-5678" and "85212345678" are the same phone; spacing and punctuation are not identity, nor a
    # Chinese IME's full-width digits (the operator's caller lookup takes them as typed; intake stores ASCII).
    return _NOT_DIGIT.sub("", unicodedata.normalize("NFKC", value))


def _aes(key: bytes) -> AESGCM:
    # `cryptography`'s AES-GCM: about five times cheaper per seal than building a pycryptodome cipher,
    # which was 7% of the API's time at intake.
    if len(key) != KEY_BYTES:
        raise ValueError(f"a personal-data key is {KEY_BYTES} bytes, got {len(key)}")
    return AESGCM(key)
