"""The simulator's built-in ArchestrA users, for AuthenticateUser and secured writes.

=============  ==========  =======
user name      password    user id
=============  ==========  =======
``operator``   operator    101
``supervisor`` supervisor  102
``engineer``   engineer    103
=============  ==========  =======

Any of them may be the current user of a WriteSecured; a verified write (security
classification 3) also needs a verifier, a different authenticated user. These
are test credentials of a simulator, not secrets.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass


@dataclass(frozen=True)
class User:
    """A built-in user (the password is not part of the repr)."""

    name: str
    user_id: int


_USERS: dict[str, tuple[str, int]] = {
    "operator": ("operator", 101),
    "supervisor": ("supervisor", 102),
    "engineer": ("engineer", 103),
}


def authenticate(user_name: str, password: str) -> User | None:
    """The user when the name (case-insensitive) and password match, else None."""
    entry = _USERS.get(user_name.strip().lower())
    if entry is None:
        return None
    expected, user_id = entry
    if not hmac.compare_digest(expected.encode(), password.encode()):
        return None
    return User(user_name.strip().lower(), user_id)
