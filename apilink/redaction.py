"""Keep secrets out of logs: known secret values and ``filter_fields`` are masked wherever
they appear in a message, its arguments, a traceback or a URL.

Typical use, once per run::

    handle = install_redaction(secret_values(config), config.logging.filter_fields)
    try:
        ...
    finally:
        handle.remove()

The filter sits on *handlers*, not loggers: a logger's filters only see records created on that
very logger, while a handler sees everything propagated to it, from every child logger.
Secrets shorter than four characters are not masked in free text (they would blank out
ordinary words); fields named like secrets are masked whatever their length.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import traceback
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, SecretBytes, SecretStr

from apilink.errors import ApilinkError
from apilink.storage.private_files import open_private

__all__ = [
    "MASK",
    "SECRET_KEY_WORDS",
    "RedactingFilter",
    "RedactionHandle",
    "Redactor",
    "install_redaction",
    "is_secret_name",
    "is_secret_request_name",
    "masking_errors",
    "open_log_file",
    "raised_apilink_error",
    "sanitize_url",
    "secret_forms",
    "secret_values",
    "secret_words",
]

MASK = "**********"
"""What every masked value becomes: in logs, URLs, reprs, dumps, quarantine and dead letters."""

SECRET_KEY_WORDS: tuple[str, ...] = (
    "password",
    "passwd",
    "token",
    "secret",
    "api_key",
    "apikey",
    "authorization",
    "credential",
    "private_key",
    "access_key",
    "client_secret",
    "session",
    "cookie",
    "credit_card",
    "card_number",
    "cvv",
    "ssn",
)
"""The one list of words that make a name secret: a record field, a ``key=value`` in a log
line, a query parameter, a header, a config key. A name is secret when it contains one (see
:func:`is_secret_name`); a config's ``logging.filter_fields`` adds words, it never takes any
away (:func:`secret_words`)."""

_REQUEST_WORDS = ("key", "sig", "signature", "code", "auth")
# Added for the names of query parameters and headers only: there they name an API key, a
# signed URL's signature, an OAuth code or an X-Auth header; in a record they would mask
# ordinary fields (zip_code, primary_key, author).
_MIN_SECRET_LEN = 4
_URL = re.compile(r"""https?://[^\s"'<>]+""")
_AUTH_HEADER = re.compile(
    r"""(?i)((?:proxy-)?authorization["']?\s*[:=]\s*["']?)"""
    r"""(?:(?:bearer|basic|token|digest|apikey)\s+)?[^\s"',}\]]+"""
)


def secret_values(obj: Any) -> set[str]:
    """Every secret value inside ``obj`` (models, dicts, lists, tuples).

    That is each ``SecretStr``/``SecretBytes``, each ``${VAR}`` or ``secret://`` value a
    config resolved into a header, a query parameter or a URL path (``secret_texts`` of
    :class:`~apilink.config.masking.SecretBearing` models), and the ``user:password`` pair of
    a model with both (Basic auth, an OAuth ``client_id``/``client_secret``) that travels
    base64-encoded in an ``Authorization: Basic`` header.
    """
    found: set[str] = set()
    _collect(obj, found, set())
    return {value for value in found if value}


_PAIRS = (("username", "password"), ("client_id", "client_secret"))


def _pairs(model: BaseModel) -> Iterable[str]:
    for user_name, secret_name in _PAIRS:
        user, secret = getattr(model, user_name, None), getattr(model, secret_name, None)
        if isinstance(user, str) and isinstance(secret, SecretStr):
            password = secret.get_secret_value()
            yield f"{user}:{password}"
            yield f"{quote(user, safe='')}:{quote(password, safe='')}"


def _collect(obj: Any, found: set[str], seen: set[int]) -> None:
    if isinstance(obj, SecretStr):
        found.add(obj.get_secret_value())
    elif isinstance(obj, SecretBytes):
        found.add(obj.get_secret_value().decode("utf-8", "replace"))
    elif isinstance(obj, BaseModel | Mapping | list | tuple | set | frozenset):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, BaseModel):
            found.update(getattr(obj, "secret_texts", ()))
            found.update(_pairs(obj))
            items: Iterable[Any] = (getattr(obj, name) for name in type(obj).model_fields)
        elif isinstance(obj, Mapping):
            items = obj.values()
        else:
            items = obj
        for item in items:
            _collect(item, found, seen)


def secret_words(filter_fields: Iterable[str] = ()) -> tuple[str, ...]:
    """:data:`SECRET_KEY_WORDS` and ``filter_fields``, as :func:`is_secret_name` compares them."""
    words = {w.lower().replace("-", "_") for w in (*SECRET_KEY_WORDS, *filter_fields) if w}
    return tuple(sorted(words))


def is_secret_name(name: str, words: Iterable[str]) -> bool:
    """Whether a field or parameter ``name`` contains one of ``words`` (any case, ``-`` as
    ``_``)."""
    lowered = name.lower().replace("-", "_")
    return any(word in lowered for word in words)


def is_secret_request_name(name: str, filter_fields: Iterable[str] = ()) -> bool:
    """Whether a query parameter or header ``name`` holds a secret: one of the words of
    :func:`secret_words`, or ``key``, ``sig``, ``signature``, ``code`` or ``auth``."""
    return is_secret_name(name, (*secret_words(filter_fields), *_REQUEST_WORDS))


def sanitize_url(url: str, filter_fields: Iterable[str] = ()) -> str:
    """``url`` with a password in its userinfo and secret-named query values masked.

    A query parameter counts as secret by :func:`is_secret_request_name`.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{hostport}" if ":" in userinfo else f"{MASK}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        masked = [(k, MASK if is_secret_request_name(k, filter_fields) else v) for k, v in pairs]
        query = urlencode(masked, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def secret_forms(value: str) -> set[str]:
    """The forms ``value`` travels in: as is, URL-encoded, JSON-escaped and base64.

    A target that echoes its request repeats a header value as a JSON string (``"`` and ``\\``
    escaped, non-ASCII as ``\\u`` escapes) and a Basic ``user:pass`` as base64.
    """
    encoded = value.encode("utf-8")
    forms = {
        value,
        quote(value, safe=""),
        quote_plus(value, safe=""),
        quote(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
    }
    for b64 in (base64.b64encode(encoded), base64.urlsafe_b64encode(encoded)):
        text = b64.decode("ascii")
        forms |= {text, text.rstrip("=")}
    return {form for form in forms if len(form) >= _MIN_SECRET_LEN}


@dataclass
class Redactor:
    """Masks known secret values and ``filter_fields`` in text and in data.

    Args:
        secrets: values to mask wherever they appear (also URL-encoded).
        filter_fields: names whose values are masked (``password=...``, ``"token": "..."``,
            ``'secret': ...``) on top of :data:`SECRET_KEY_WORDS`; a name matches when it
            contains one.
    """

    secrets: set[str] = field(default_factory=set)
    filter_fields: tuple[str, ...] = ()
    _patterns: list[re.Pattern[str]] = field(default_factory=list, init=False, repr=False)
    _needles: list[str] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self.secrets = set(self.secrets)
        self.filter_fields = secret_words(self.filter_fields)
        self._compile()

    def __repr__(self) -> str:
        return f"Redactor(secrets=<{len(self.secrets)} values>, filter_fields={self.filter_fields})"

    def add_secrets(self, values: Iterable[str]) -> None:
        """Mask ``values`` from now on too."""
        self.secrets |= {value for value in values if value}
        self._compile()

    def _compile(self) -> None:
        needles: set[str] = set()
        for value in self.secrets:
            if len(value) >= _MIN_SECRET_LEN:
                needles |= secret_forms(value)
        self._needles = sorted(needles, key=len, reverse=True)
        self._patterns = []
        if self.filter_fields:
            # secret_words spells "-" as "_"; a log line may spell it either way.
            names = "|".join(re.escape(word).replace("_", "[-_]") for word in self.filter_fields)
            key = rf"[\w.-]*(?:{names})[\w.-]*"
            # "key": "value" / 'key': 'value' / "key": 123  (JSON and Python reprs)
            self._patterns.append(
                re.compile(
                    rf"""(?i)(["']{key}["']\s*:\s*)(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^,}}\]\s]+)"""
                )
            )
            # key=value, key: value (not "TokenEndpointError: ...": an exception's name)
            self._patterns.append(
                re.compile(
                    rf"""(?i)(\b(?![\w.-]*(?:error|exception|warning)\s*[=:]){key}\s*[=:]\s*)"""
                    rf"""(?!\*{{10}})[^\s&,;'"}}\]]+"""
                )
            )

    def text(self, text: str) -> str:
        """``text`` with every secret, secret field value, auth header and URL secret masked."""
        if not text:
            return text
        text = _URL.sub(lambda m: sanitize_url(m.group(0), self.filter_fields), text)
        text = _AUTH_HEADER.sub(lambda m: m.group(1) + MASK, text)
        for pattern in self._patterns:
            text = pattern.sub(_keep_quotes, text)
        for needle in self._needles:
            text = text.replace(needle, MASK)
        return text

    def data(self, obj: Any) -> Any:
        """A copy of ``obj`` (JSON-like data) with secrets and secret-named fields masked."""
        if isinstance(obj, SecretStr | SecretBytes):
            return MASK
        if isinstance(obj, Mapping):
            return {
                str(k): MASK if is_secret_name(str(k), self.filter_fields) else self.data(v)
                for k, v in obj.items()
            }
        if isinstance(obj, list | tuple | set | frozenset):
            return [self.data(item) for item in obj]
        if isinstance(obj, str):
            return self.text(obj)
        if obj is None or isinstance(obj, bool | int | float):
            return obj
        return self.text(str(obj))


def _keep_quotes(match: re.Match[str]) -> str:
    prefix = match.group(1)
    value = match.group(0)[len(prefix) :]
    quote_char = value[0] if value[:1] in {'"', "'"} else ""
    return f"{prefix}{quote_char}{MASK}{quote_char}"


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites each record so no secret leaves through any handler.

    The message is formatted with its arguments and masked (``args`` become empty); an
    exception is formatted and masked into ``exc_text`` (``exc_info`` is dropped so no
    formatter renders the raw traceback again); ``stack_info`` is masked too.
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_apilink_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the pieces, masked
            message = f"{record.msg!s} {record.args!r}"
        record.msg = self.redactor.text(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            record.apilink_error = isinstance(record.exc_info[1], ApilinkError)
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = self.redactor.text(text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redactor.text(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.text(record.stack_info)
        record._apilink_redacted = True
        return True


@contextmanager
def masking_errors(redactor: Redactor) -> Iterator[None]:
    """An exception raised in the block leaves it with its message masked, so what records it
    (a Prefect task run's state message and its events, which no logging filter sees) keeps no
    secret. The exception is the same object, of the same type."""
    try:
        yield
    except Exception as exc:
        text = str(exc)
        masked = redactor.text(text)
        if masked != text:
            exc.args = (masked,)
        raise


def raised_apilink_error(record: logging.LogRecord) -> bool:
    """Whether ``record``'s exception, which a :class:`RedactingFilter` may already have turned
    into masked text, was an :class:`~apilink.errors.ApilinkError`."""
    return bool(getattr(record, "apilink_error", False))


@dataclass
class RedactionHandle:
    """What :func:`install_redaction` attached; :meth:`remove` detaches it all."""

    filter: RedactingFilter
    handlers: list[logging.Handler] = field(default_factory=list)
    loggers: list[logging.Logger] = field(default_factory=list)

    def remove(self) -> None:
        """Take the filter off every handler and logger it was put on."""
        for handler in self.handlers:
            handler.removeFilter(self.filter)
        for logger in self.loggers:
            logger.removeFilter(self.filter)
        self.handlers.clear()
        self.loggers.clear()

    def add_secrets(self, values: Iterable[str]) -> None:
        """Mask ``values`` too (a token acquired after the run began)."""
        self.filter.redactor.add_secrets(values)


def install_redaction(
    secrets: Iterable[str],
    filter_fields: Iterable[str] = (),
    loggers: Iterable[str] = ("apilink", "httpx", "httpcore", "prefect"),
    *,
    extra_handlers: Iterable[logging.Handler] = (),
) -> RedactionHandle:
    """Attach one :class:`RedactingFilter` to every handler that can see these loggers' records.

    That is the handlers of each named logger and of its existing descendants (Prefect's
    ``prefect.flow_runs`` / ``prefect.task_runs`` carry the ``APILogHandler`` that ships run
    logs to the server), the root logger's handlers, and ``extra_handlers``.
    """
    redactor = Redactor(set(secrets), tuple(filter_fields))
    handle = RedactionHandle(RedactingFilter(redactor))
    prefixes = tuple(loggers)
    chosen: list[logging.Logger] = [logging.getLogger()]
    for name in prefixes:
        chosen.append(logging.getLogger(name))
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and name.startswith(
            tuple(prefix + "." for prefix in prefixes)
        ):
            chosen.append(logger)
    handlers: list[logging.Handler] = [h for lg in chosen for h in lg.handlers]
    handlers.extend(extra_handlers)
    for handler in handlers:
        if handler not in handle.handlers:
            handler.addFilter(handle.filter)
            handle.handlers.append(handler)
    # httpx's "HTTP Request: GET <url>" lines (and httpcore's DEBUG traces) are masked where
    # they are made, before any handler, even one added after this call, sees them.
    for name in _TRANSPORT_LOGGERS:
        logger = logging.getLogger(name)
        logger.addFilter(handle.filter)
        handle.loggers.append(logger)
    return handle


_TRANSPORT_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
)


class _PrivateFileHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Appends to a file opened by :func:`apilink.storage.private_files.open_private`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(open_private(path, "a"))
        self.baseFilename = os.fspath(path)

    def close(self) -> None:
        self.acquire()
        try:
            try:
                self.flush()
            finally:
                self.stream.close()
        finally:
            self.release()
            super().close()


def open_log_file(path: str | os.PathLike[str], level: int | str = logging.INFO) -> logging.Handler:
    """A handler appending to ``logging.file``: mode 0600 (an existing wider file is
    tightened), never written through a symlink (:mod:`apilink.storage.private_files`).

    Raises:
        PrivateFileError: ``path`` is a symlink or not a regular file.
    """
    handler = _PrivateFileHandler(path)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s - %(message)s"))
    return handler
