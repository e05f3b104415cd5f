from __future__ import annotations

import ast
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr

from apilink.redaction import (
    MASK,
    RedactingFilter,
    Redactor,
    install_redaction,
    open_log_file,
    sanitize_url,
    secret_forms,
    secret_values,
)

CANARY = "CANARY-s3cr3t-value-8842"
FIELD_CANARY = "CANARY-field-value-1177"


class Inner(BaseModel):
    token: SecretStr
    name: str = "x"


class Outer(BaseModel):
    password: SecretStr
    inner: Inner
    items: list[Inner]
    extra: dict[str, SecretStr]


def test_secret_values_walks_models_dicts_and_lists() -> None:
    outer = Outer(
        password=SecretStr("p1"),
        inner=Inner(token=SecretStr("t1")),
        items=[Inner(token=SecretStr("t2"))],
        extra={"k": SecretStr("e1")},
    )
    assert secret_values(outer) == {"p1", "t1", "t2", "e1"}
    assert secret_values({"a": [outer, SecretStr("z1")]}) == {"p1", "t1", "t2", "e1", "z1"}


@pytest.mark.parametrize(
    ("url", "hidden"),
    [
        (f"https://api.example.com/v1?api_key={CANARY}&page=2", CANARY),
        (f"https://api.example.com/v1?access_token={CANARY}", CANARY),
        (f"https://user:{CANARY}@api.example.com/v1", CANARY),
        (f"https://api.example.com/cb?code={CANARY}&state=1", CANARY),
    ],
)
def test_sanitize_url(url: str, hidden: str) -> None:
    clean = sanitize_url(url)
    assert hidden not in clean and "api.example.com" in clean


def test_sanitize_url_keeps_harmless_params() -> None:
    assert (
        sanitize_url("https://a.example/x?page=2&limit=5") == "https://a.example/x?page=2&limit=5"
    )


@pytest.mark.parametrize(
    "text",
    [
        f"password={FIELD_CANARY}",
        f'{{"password": "{FIELD_CANARY}", "user": "bob"}}',
        f"{{'client_secret': '{FIELD_CANARY}'}}",
        f"Authorization: Bearer {FIELD_CANARY}",
        f"headers={{'authorization': 'Basic {FIELD_CANARY}'}}",
        f'{{"credit_card": 4111{FIELD_CANARY[-4:]}}}',
        f"db_password: {FIELD_CANARY}",
    ],
)
def test_field_patterns(text: str) -> None:
    redactor = Redactor(set(), ("password", "secret", "authorization", "credit_card"))
    out = redactor.text(text)
    assert FIELD_CANARY not in out and FIELD_CANARY[-4:] not in out.replace(MASK, "")
    assert MASK in out


def test_known_secret_values_are_masked_anywhere_also_url_encoded() -> None:
    secret = "p@ss word/" + CANARY
    redactor = Redactor({secret}, ())
    from urllib.parse import quote

    out = redactor.text(f"raw {secret} encoded {quote(secret, safe='')}")
    assert CANARY not in out


def test_json_structure_survives() -> None:
    redactor = Redactor(set(), ("token",))
    out = redactor.text(json.dumps({"token": FIELD_CANARY, "n": 1}))
    assert json.loads(out) == {"token": MASK, "n": 1}


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, logging.Logger]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    logger = logging.getLogger("apilink")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        yield stream, logger
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def test_filter_cleans_messages_args_exceptions_urls_and_child_loggers(
    captured: tuple[io.StringIO, logging.Logger],
) -> None:
    stream, _ = captured
    handle = install_redaction({CANARY}, ["password"], loggers=("apilink",))
    try:
        child = logging.getLogger("apilink.deep.child")
        child.info("message with %s", CANARY)
        child.info(f"inline {CANARY}")
        child.info("dict arg %s", {"password": FIELD_CANARY})
        child.info("GET %s", f"https://api.example.com/x?token={FIELD_CANARY}")
        try:
            raise RuntimeError(f"boom {CANARY}")
        except RuntimeError:
            child.exception("failed")
        child.info("bad format %s %s", CANARY)  # wrong arg count must not leak either
    finally:
        handle.remove()
    text = stream.getvalue()
    assert CANARY not in text and FIELD_CANARY not in text
    assert "RuntimeError" in text and "Traceback" in text
    assert text.count(MASK) >= 5


def test_remove_detaches(captured: tuple[io.StringIO, logging.Logger]) -> None:
    stream, logger = captured
    install_redaction({CANARY}, [], loggers=("apilink",)).remove()
    logger.info("after remove %s", CANARY)
    assert CANARY in stream.getvalue()  # proves the filter, not luck, cleaned the other test


def test_secrets_added_later_are_masked(captured: tuple[io.StringIO, logging.Logger]) -> None:
    stream, logger = captured
    handle = install_redaction(set(), [], loggers=("apilink",))
    try:
        handle.add_secrets({CANARY})
        logger.info("token %s", CANARY)
    finally:
        handle.remove()
    assert CANARY not in stream.getvalue()


def test_prefect_run_log_handlers_are_covered() -> None:
    from prefect.logging.configuration import setup_logging
    from prefect.logging.handlers import APILogHandler

    setup_logging()
    handle = install_redaction({CANARY}, [])
    try:
        api_handlers = [h for h in handle.handlers if isinstance(h, APILogHandler)]
        assert api_handlers
        record = logging.LogRecord("prefect.flow_runs", 20, __file__, 1, "x %s", (CANARY,), None)
        for handler in api_handlers:
            for flt in handler.filters:
                if hasattr(flt, "redactor"):
                    flt.filter(record)
        assert CANARY not in record.getMessage()
    finally:
        handle.remove()


def test_log_file_is_0600_and_redacted(tmp_path: Path) -> None:
    path = tmp_path / "apilink.log"
    handler = open_log_file(path)
    logger = logging.getLogger("apilink.filetest")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    handle = install_redaction({CANARY}, [], loggers=("apilink",))
    try:
        logger.info("secret %s", CANARY)
    finally:
        handle.remove()
        logger.removeHandler(handler)
        handler.close()
    assert path.stat().st_mode & 0o777 == 0o600
    assert CANARY not in path.read_text() and MASK in path.read_text()


def test_an_exception_name_is_not_taken_for_a_secret_key() -> None:
    redactor = Redactor(set())
    text = "TokenEndpointError: token endpoint refused the client; token=abc123"
    assert redactor.text(text) == (
        "TokenEndpointError: token endpoint refused the client; token=**********"
    )


def test_httpx_request_lines_are_masked_at_the_logger_whatever_the_handler() -> None:
    """A handler added after the run installed redaction (a test's caplog, an operator's
    debug handler) still sees httpx's "HTTP Request" line masked: the filter sits on the
    ``httpx`` logger itself."""
    secret = "p4th-s3cret-in-url"
    handle = install_redaction({secret}, ())
    stream = io.StringIO()
    late = logging.StreamHandler(stream)
    httpx_logger = logging.getLogger("httpx")
    httpx_logger.addHandler(late)
    old_level = httpx_logger.level
    httpx_logger.setLevel(logging.DEBUG)
    try:
        httpx_logger.info(
            'HTTP Request: %s %s "%s %d %s"',
            "GET",
            f"https://api.test/v1/{secret}/users?sig={secret}",
            "HTTP/1.1",
            200,
            "OK",
        )
    finally:
        handle.remove()
        httpx_logger.removeHandler(late)
        httpx_logger.setLevel(old_level)
    assert secret not in stream.getvalue()
    assert "HTTP Request: GET https://api.test/v1/" in stream.getvalue()
    assert not any(isinstance(f, RedactingFilter) for f in httpx_logger.filters)


def test_secret_forms_cover_url_json_and_base64() -> None:
    import base64
    import json

    value = 'a"b\\c d/é'
    forms = secret_forms(value)

    assert json.dumps(value)[1:-1] in forms
    assert json.dumps(value, ensure_ascii=False)[1:-1] in forms
    assert base64.b64encode(value.encode()).decode() in forms
    assert "a%22b%5Cc%20d%2F%C3%A9" in forms


# -- one list of secret names, one mask ---------------------------------------------------


def _word_lists_outside_redaction() -> list[str]:
    """Literal lists, tuples and sets (and regexes) outside redaction.py that spell two or
    more of the secret words: a second copy of the list."""
    from apilink.redaction import SECRET_KEY_WORDS

    root = Path(__file__).resolve().parents[2]
    words = set(SECRET_KEY_WORDS)
    found = []
    for layer in ("apilink", "tasks", "flows", "blocks", "cli"):
        for path in sorted((root / layer).rglob("*.py")):
            if path == root / "apilink" / "redaction.py":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.List | ast.Tuple | ast.Set):
                    spelled = {
                        e.value.lower()
                        for e in node.elts
                        if isinstance(e, ast.Constant) and isinstance(e.value, str)
                    }
                    if len(spelled & words) >= 2:
                        found.append(f"{path.relative_to(root)}:{node.lineno}")
                elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                    alternatives = set(node.value.lower().split("|"))
                    if len(alternatives & words) >= 2:
                        found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_the_secret_names_are_listed_once() -> None:
    # origin.py names the exact headers dropped on a request to another origin (a list of
    # headers, not of words a name contains); apilink/http is being reworked in parallel.
    assert [
        place
        for place in _word_lists_outside_redaction()
        if not place.startswith("apilink/http/origin.py:")
    ] == []


def test_filter_fields_add_to_the_list_and_never_narrow_it() -> None:
    redactor = Redactor(set(), ("customer-ref",))
    text = redactor.text("token=abc123 customer-ref=7788 customer_ref: 9911 page=2")
    assert "abc123" not in text and "7788" not in text and "9911" not in text
    assert "page=2" in text


def test_the_config_default_adds_nothing_to_the_list() -> None:
    from apilink.config.models import LoggingConfig

    assert LoggingConfig().filter_fields == []


@pytest.mark.parametrize("name", ["code", "sig", "X-Auth", "X-API-Key", "access_token"])
def test_request_names_that_hold_credentials_are_masked_in_urls(name: str) -> None:
    from apilink.redaction import is_secret_request_name

    assert is_secret_request_name(name)
    assert "hush" not in sanitize_url(f"https://a.example/x?{name}=hush&page=2")


def test_record_fields_named_like_request_words_are_kept() -> None:
    from apilink.redaction import SECRET_KEY_WORDS, is_secret_name

    for name in ("zip_code", "primary_key", "author"):
        assert not is_secret_name(name, SECRET_KEY_WORDS), name


def test_the_cli_and_config_dumps_use_the_one_mask() -> None:
    import cli.credentials
    from apilink.config import masking

    assert cli.credentials.MASK is MASK
    assert masking.MASK is MASK
