from __future__ import annotations

from pathlib import Path

import pytest

from apilink.config import (
    ApiKeyAuthConfig,
    BasicAuthConfig,
    OAuth2ClientCredentialsConfig,
    load_config,
    parse_config,
)
from apilink.errors import ConfigError

CANARY = "canary-s3cr3t-8d1f"

GUIDE_SHAPED = """
source:
  type: rest
  base_url: "https://api.example.com"
  auth:
    type: oauth2
    client_id: ${CLIENT_ID}
    client_secret: ${CLIENT_SECRET}
    token_url: "https://api.example.com/oauth/token"
    scope: "read"
  timeout: 30
  retry:
    max_attempts: 3
    backoff_factor: 2
  endpoints:
    get_user:
      path: /users
      pagination:
        data_path: data
        next_page_path: meta.next
        page_param: cursor
target:
  type: rest
  base_url: "https://crm.example.com"
  auth:
    type: api_key
    header: X-API-Key
    key: ${MY_API_KEY}
  endpoints:
    create_profile:
      path: /profiles
      method: POST
mapping:
  - source: "get_user"
    target: "create_profile"
    fields:
      - {source: name.first, target: first_name, transform: strip}
      - {source: "items[0].id", target: "ids[0]", transform: [to_string, lowercase]}
    validation:
      required_fields: ["id", "email"]
      email_fields: ["email"]
logging:
  level: INFO
  security_audit: true
  file: "apilinker_audit.log"
  filter_fields: ["password", "token", "secret", "credit_card"]
security:
  enable_access_control: true
  users:
    - username: "admin1"
      role: "admin"
      api_key: "optional-predefined-api-key"
    - username: "viewer1"
      role: "viewer"
"""

ENV = {"CLIENT_ID": "client-1", "CLIENT_SECRET": CANARY, "MY_API_KEY": CANARY}


def problem(text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="sync.yaml", env=env if env is not None else ENV)
    message = str(caught.value)
    assert CANARY not in message
    assert message.startswith("sync.yaml: ")
    assert "\n" not in message
    return message


def test_the_guides_keys_load_as_written() -> None:
    config = parse_config(GUIDE_SHAPED, env=ENV)
    assert isinstance(config.source.auth, OAuth2ClientCredentialsConfig)
    assert config.source.auth.client_secret.get_secret_value() == CANARY
    assert config.source.auth.client_id == "client-1"
    assert isinstance(config.target.auth, ApiKeyAuthConfig)
    assert config.source.timeout is not None and config.source.timeout.read == 30
    assert config.retry_for(config.source).backoff_factor == 2
    assert config.mapping[0].validation.email_fields == ["email"]
    assert config.mapping[0].fields[1].transform == ["to_string", "lowercase"]
    assert config.logging.security_audit is True
    assert config.security.users[0].api_key is not None
    pagination = config.source.endpoints["get_user"].pagination
    assert pagination is not None and pagination.type == "cursor"


def test_secrets_do_not_show_in_reprs() -> None:
    config = parse_config(GUIDE_SHAPED, env=ENV)
    assert CANARY not in repr(config)
    assert CANARY not in str(config.model_dump())


def test_env_default_syntax() -> None:
    text = GUIDE_SHAPED.replace("${CLIENT_ID}", "${NOT_SET_ANYWHERE:-fallback-id}")
    config = parse_config(text, env=ENV)
    assert isinstance(config.source.auth, OAuth2ClientCredentialsConfig)
    assert config.source.auth.client_id == "fallback-id"


def test_undefined_variable_is_named_with_its_key_path() -> None:
    message = problem(GUIDE_SHAPED, env={"CLIENT_ID": "x", "CLIENT_SECRET": CANARY})
    assert "MY_API_KEY" in message
    assert "target.auth.key" in message


def test_unknown_key_names_the_path_and_the_valid_keys() -> None:
    message = problem(
        GUIDE_SHAPED.replace("  endpoints:\n    get_user", "  endpionts:\n    get_user")
    )
    assert "unknown key `source.endpionts`" in message
    assert "endpoints" in message.split("valid keys here:")[1]


def test_unknown_key_inside_a_union_member() -> None:
    message = problem(GUIDE_SHAPED.replace("header: X-API-Key", "headr: X-API-Key"))
    assert "unknown key `target.auth.headr`" in message
    assert "header" in message


def test_wrong_type_names_the_key_without_echoing_the_value() -> None:
    message = problem(GUIDE_SHAPED.replace("max_attempts: 3", f"max_attempts: {CANARY}"))
    assert "`source.retry.max_attempts`" in message
    assert "integer" in message


def test_unknown_transformer_lists_the_valid_names() -> None:
    message = problem(GUIDE_SHAPED.replace("transform: strip", "transform: stripp"))
    assert "stripp" in message and "lowercase" in message and "iso_to_timestamp" in message
    assert "mapping[0].fields[0].transform" in message


def test_unknown_auth_type_lists_the_valid_types() -> None:
    message = problem(GUIDE_SHAPED.replace("type: oauth2\n", "type: oauth3\n"))
    assert "oauth3" in message and "oauth2_pkce" in message and "api_key" in message


def test_unknown_pagination_type_lists_the_valid_types() -> None:
    message = problem(
        GUIDE_SHAPED.replace("data_path: data\n", "type: pagee\n        data_path: data\n")
    )
    assert "type=pagee" in message and "page_number" in message


def test_mapping_to_an_undefined_endpoint() -> None:
    message = problem(GUIDE_SHAPED.replace('target: "create_profile"', 'target: "create_profil"'))
    assert "create_profil" in message and "create_profile" in message


def test_python_object_tags_are_never_loaded(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    message = problem(f"!!python/object/apply:os.system ['touch {marker}']")
    assert "python/object" in message
    assert not marker.exists()


def test_not_a_mapping() -> None:
    assert "mapping" in problem("- just\n- a list\n")


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.yaml")


def test_insecure_base_url_scheme_is_refused() -> None:
    assert "https://" in problem(GUIDE_SHAPED.replace('"https://crm.example.com"', "ftp://crm"))


def test_basic_auth_and_timeouts_by_phase() -> None:
    text = GUIDE_SHAPED.replace(
        "type: api_key\n    header: X-API-Key\n    key: ${MY_API_KEY}",
        "type: basic\n    username: u\n    password: ${MY_API_KEY}",
    ).replace("timeout: 30", "timeout: {connect: 2, read: 40}")
    config = parse_config(text, env=ENV)
    assert isinstance(config.target.auth, BasicAuthConfig)
    assert config.source.timeout is not None
    assert (config.source.timeout.connect, config.source.timeout.read) == (2, 40)
