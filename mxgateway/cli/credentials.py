"""API keys and passwords for the command line: where they come from, and keeping them out of output.

Secrets never come from a positional argument. An API key may come from
``--api-key`` (visible to other local users in the process list, so the
environment variable or a file is preferred), from the environment variable
named by ``--api-key-env`` (``MXGATEWAY_API_KEY`` unless told otherwise) or from
``--api-key-file``. A password comes from an environment variable, a file or an
interactive prompt, never from argv.

Every secret read here is registered with :data:`REDACTOR`, which every error
message passes through before it is printed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "DEFAULT_API_KEY_ENV",
    "REDACTOR",
    "Redactor",
    "SecretSourceError",
    "read_api_key",
    "read_password",
]

DEFAULT_API_KEY_ENV = "MXGATEWAY_API_KEY"


class SecretSourceError(ValueError):
    """A secret source was named but cannot supply a secret (a usage error)."""


class Redactor:
    """Replaces every registered secret in a text by ``<redacted>``."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def register(self, secret: str | None) -> None:
        """Remember ``secret`` (empty, blank or None is ignored)."""
        if secret and not secret.isspace():
            self._secrets.add(secret)

    def redact(self, text: str) -> str:
        """``text`` without any registered secret (the core's rules: see ``mxgateway.errors.redact``)."""
        from mxgateway.errors import redact  # lazily: keeps grpc off the CLI's start-up path

        return redact(text, self._secrets)

    def clear(self) -> None:
        """Forget every secret (for tests running many commands in one process)."""
        self._secrets.clear()

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"


#: The process-wide redactor of the command line.
REDACTOR = Redactor()


def _read_secret_file(path: Path, what: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        # The OS message names the path and the reason, never the content.
        raise SecretSourceError(f"cannot read the {what} file {str(path)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SecretSourceError(f"the {what} file {str(path)!r} is not UTF-8 text") from None
    # A file written by `echo` ends with a newline that is not part of the secret.
    secret = text.rstrip("\r\n")
    if not secret:
        raise SecretSourceError(f"the {what} file {str(path)!r} is empty")
    if "\n" in secret or "\r" in secret:
        raise SecretSourceError(f"the {what} file {str(path)!r} holds more than one line")
    return secret


def read_api_key(
    flag: str | None,
    env_name: str | None,
    file: Path | None,
    *,
    environ: dict[str, str] | None = None,
) -> str | None:
    """The API key to send, or None for none.

    Precedence: ``--api-key``, then ``--api-key-file``, then the variable
    ``env_name`` (``MXGATEWAY_API_KEY`` when None). A variable named explicitly
    but unset, an unreadable or empty file, or two explicit sources at once are
    errors; the default variable being unset just means "no key".
    """
    env = os.environ if environ is None else environ
    if flag is not None and file is not None:
        raise SecretSourceError("give either --api-key or --api-key-file, not both")
    if flag is not None:
        key: str | None = flag or None
    elif file is not None:
        key = _read_secret_file(file, "API key")
    elif env_name is not None:
        if not env_name:
            raise SecretSourceError("--api-key-env needs a variable name")
        if env_name not in env:
            raise SecretSourceError(f"the API key variable {env_name} is not set")
        key = env[env_name] or None
    else:
        key = env.get(DEFAULT_API_KEY_ENV) or None
    if key is not None and any(c in key for c in "\r\n"):
        raise SecretSourceError("the API key must be one line")
    REDACTOR.register(key)
    return key


def _terminal_prompt(label: str) -> str:
    import getpass

    return getpass.getpass(f"{label}: ")


def read_password(
    env_name: str | None,
    file: Path | None,
    *,
    label: str = "Password",
    environ: dict[str, str] | None = None,
    interactive: bool | None = None,
    prompt: Callable[[str], str] = _terminal_prompt,
) -> str:
    """A password from the variable ``env_name``, from ``file``, or from a prompt.

    The prompt is used only when neither source is given and stdin is a terminal
    (``interactive`` overrides the check); otherwise that is an error, as is a
    named variable that is unset or empty and an unreadable or empty file.
    """
    env = os.environ if environ is None else environ
    if env_name is not None and file is not None:
        raise SecretSourceError("give either the password variable or the password file, not both")
    if env_name is not None:
        value = env.get(env_name)
        if not value:
            raise SecretSourceError(f"the password variable {env_name} is not set or empty")
        password = value
    elif file is not None:
        password = _read_secret_file(file, "password")
    else:
        if interactive is None:
            interactive = sys.stdin is not None and sys.stdin.isatty()
        if not interactive:
            raise SecretSourceError(
                "no password source: give --password-env NAME or --password-file PATH (or run on a terminal)"
            )
        password = prompt(label)
        if not password:
            raise SecretSourceError("no password entered")
    REDACTOR.register(password)
    return password
