"""Secrets never leave the process: every text bound for output goes through a Redactor first."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

MASK = "******"
_PRIVATE_KEY = re.compile(r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(-----END \1PRIVATE KEY-----|\Z)", re.S)
_PASSWORD_LINE = re.compile(r"(?im)^(\s*[\w.-]*pass(?:word|wd|phrase)?\s*[=:]\s*)(\S.*)$")
_URL_CREDENTIALS = re.compile(r"(://[^:/\s@]+:)[^@\s/]+@")


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()):
        # Longest first, so a secret containing another is masked whole.
        self.secrets = sorted({s for s in secrets if isinstance(s, str) and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        if not text:
            return text
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        text = _PRIVATE_KEY.sub(
            lambda m: f"-----BEGIN {m.group(1)}PRIVATE KEY----- [redacted] -----END {m.group(1)}PRIVATE KEY-----", text
        )
        text = _PASSWORD_LINE.sub(lambda m: m.group(1) + MASK, text)
        return _URL_CREDENTIALS.sub(lambda m: m.group(1) + MASK + "@", text)

    def install_logging_filter(self, *loggers: str) -> None:
        """testinfra logs every command's output at debug level; mask it there too."""
        redactor = self

        class _Filter(logging.Filter):
            def filter(self, record: logging.LogRecord) -> bool:
                record.msg = redactor(record.getMessage())
                record.args = ()
                return True

        for name in loggers:
            logging.getLogger(name).addFilter(_Filter())


def secret_leaves(data) -> list[str]:
    """Every string value in a passwords.yml-like structure."""
    if isinstance(data, dict):
        return [s for value in data.values() for s in secret_leaves(value)]
    if isinstance(data, list):
        return [s for value in data for s in secret_leaves(value)]
    return [data] if isinstance(data, str) else []
