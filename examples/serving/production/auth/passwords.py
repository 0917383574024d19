"""Passwords stored as slow, salted hashes: Argon2id at OWASP's minimum, old scrypt hashes still read.

OWASP's Password Storage Cheat Sheet asks for Argon2id with at least 19 MiB of memory, 2 passes
and 1 lane, or, where Argon2id is missing, scrypt with N=2**17, r=8, p=1. We use the Argon2id
minimum: argon2-cffi is installed, and every login costs the server this much CPU, so the
minimum plus a strict login limit (rate_limit.py) is the balance chosen here.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# memory_cost is in KiB: 19 MiB = 19,456 KiB.
ARGON2_TIME_COST, ARGON2_MEMORY_KIB, ARGON2_PARALLELISM = 2, 19 * 1024, 1
HASHER = PasswordHasher(
    time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM
)


def hash_password(password: str) -> str:
    """An Argon2id hash with a fresh random salt, in the PHC string format ($argon2id$v=19$...)."""
    return HASHER.hash(password)


def verify_password(password: str, stored: str) -> bool:
    """Does `password` match `stored`? Reads Argon2id hashes and the book's older scrypt ones."""
    if stored.startswith("scrypt-"):
        return _verify_scrypt(password, stored)
    try:
        return HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True for a hash made with older or weaker settings: make a new one with hash-password."""
    return stored.startswith("scrypt-") or HASHER.check_needs_rehash(stored)


def _verify_scrypt(password: str, stored: str) -> bool:
    """The first edition's format, scrypt-N-r-p-SALT-HASH (hex), checked in constant time."""
    try:
        _, n, r, p, salt, expected = stored.split("-")
        digest = hashlib.scrypt(
            password.encode(),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=256 * 1024 * 1024,  # N=2**17 needs 128 MiB, more than scrypt's default cap
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest, bytes.fromhex(expected))


@functools.cache
def dummy_hash() -> str:
    """A real hash of a random password: checked when the user name is unknown, so that "no such
    user" takes as long as "wrong password" and the time does not reveal which names exist."""
    return hash_password(secrets.token_urlsafe(16))
