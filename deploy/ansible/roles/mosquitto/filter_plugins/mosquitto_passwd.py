"""Mosquitto password-file lines with a salt derived from a seed, so a re-run is idempotent.

Mosquitto 2 stores ``user:$7$<iterations>$<base64 salt>$<base64 hash>`` where the hash is
PBKDF2-HMAC-SHA512 with a 12-byte salt and a 64-byte result. ``mosquitto_passwd`` picks a
random salt, which would rewrite the file on every run; here the salt is a SHA-256 of the
seed and the user name, so it differs per gateway and per account yet stays stable.
"""

from __future__ import annotations

import base64
import hashlib


def mosquitto_passwd_line(password: str, user: str, seed: str, iterations: int = 1000) -> str:
    """Return one password-file line for ``user``."""
    if ":" in user or not user:
        raise ValueError(f"invalid mosquitto user name {user!r}")
    salt = hashlib.sha256(f"{seed}\0{user}".encode()).digest()[:12]
    digest = hashlib.pbkdf2_hmac("sha512", str(password).encode(), salt, int(iterations))
    salt_b64 = base64.b64encode(salt).decode()
    digest_b64 = base64.b64encode(digest).decode()
    return f"{user}:$7${int(iterations)}${salt_b64}${digest_b64}"


class FilterModule:
    """Ansible filters of the mosquitto role."""

    def filters(self) -> dict[str, object]:
        return {"mosquitto_passwd_line": mosquitto_passwd_line}
