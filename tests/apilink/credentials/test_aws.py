"""AWS Secrets Manager as a store: boto3 against moto's server on loopback, and against a
loopback API that answers as AWS does when it throttles or denies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from apilink.config.credentials import AwsSecretsManagerConfig
from apilink.credentials.aws import AwsSecretsManagerStore
from apilink.demo import free_port, serve
from apilink.errors import (
    AwsSecretDenied,
    AwsSecretNotFound,
    AwsSecretsManagerError,
    AwsSecretThrottled,
    CredentialExpired,
    CredentialNotFound,
)
from tests.fixtures.aws import MotoServer


def store(url: str, **options: Any) -> AwsSecretsManagerStore:
    config = {"type": "aws_secrets_manager", "region": "eu-west-1", "endpoint_url": url}
    return AwsSecretsManagerStore(AwsSecretsManagerConfig.model_validate(config | options))


def test_a_json_secret_gives_its_fields_and_a_plain_one_its_value(moto_server: MotoServer) -> None:
    aws = moto_server.client()
    aws.create_secret(Name="crm/api", SecretString=json.dumps({"token": "t-1", "user": "u"}))
    aws.create_secret(Name="partner-key", SecretString="pk-canary-9")
    secrets = store(moto_server.url)

    assert secrets.get("crm/api") == {"token": "t-1", "user": "u"}
    assert secrets.get("partner-key") == {"value": "pk-canary-9"}
    assert sorted(secrets.list()) == ["crm/api", "partner-key"]
    assert "canary" not in repr(secrets)


def test_put_writes_a_new_version_and_older_ones_stay_readable(moto_server: MotoServer) -> None:
    secrets = store(moto_server.url)
    secrets.put("oauth/tokens", {"refresh_token": "r-1"})  # created
    secrets.put("oauth/tokens", {"refresh_token": "r-2"})  # a rotated token written back
    assert secrets.get("oauth/tokens") == {"refresh_token": "r-2"}
    previous = store(moto_server.url, version_stage="AWSPREVIOUS")
    assert previous.get("oauth/tokens") == {"refresh_token": "r-1"}
    versions = moto_server.client().list_secret_version_ids(SecretId="oauth/tokens")["Versions"]
    (first,) = [v["VersionId"] for v in versions if "AWSPREVIOUS" in v["VersionStages"]]
    assert store(moto_server.url, version_id=first).get("oauth/tokens") == {"refresh_token": "r-1"}


def test_missing_and_expired_secrets_are_clear_errors(moto_server: MotoServer) -> None:
    secrets = store(moto_server.url)
    with pytest.raises(AwsSecretNotFound, match="no secret named 'nope' in AWS Secrets Manager"):
        secrets.get("nope")
    assert issubclass(AwsSecretNotFound, CredentialNotFound)
    secrets.put("old", {"token": "x", "expires_at": 1})
    with pytest.raises(CredentialExpired, match="'old'"):
        secrets.get("old")
    secrets.delete("old")
    with pytest.raises(AwsSecretsManagerError):
        secrets.get("old")  # scheduled for deletion: no longer readable


def _aws_error(code: str, log: list[str]) -> Starlette:
    async def answer(request: Request) -> JSONResponse:
        log.append(request.headers.get("x-amz-target", ""))
        return JSONResponse({"__type": code, "message": "no"}, status_code=400)

    return Starlette(routes=[Route("/", answer, methods=["POST"])])


@pytest.mark.parametrize(
    ("code", "error", "says", "attempts"),
    [
        ("ThrottlingException", AwsSecretThrottled, "still throttled", 3),
        ("AccessDeniedException", AwsSecretDenied, r"access denied \(AccessDeniedException\)", 1),
        ("UnrecognizedClientException", AwsSecretDenied, "access denied", 1),
    ],
)
def test_throttled_and_denied_answers_each_get_their_error(
    moto_server: MotoServer, code: str, error: type[Exception], says: str, attempts: int
) -> None:
    log: list[str] = []
    with serve(_aws_error(code, log)) as url:
        with pytest.raises(error, match=says) as caught:
            store(url, max_attempts=3).get("crm/api")
    assert "'crm/api'" in str(caught.value) and "eu-west-1" in str(caught.value)
    assert log == ["secretsmanager.GetSecretValue"] * attempts


def test_an_endpoint_that_does_not_answer(moto_server: MotoServer) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(AwsSecretsManagerError, match="does not answer"):
        store(closed, max_attempts=1, timeout=2).get("crm/api")


def test_a_plain_http_endpoint_elsewhere_is_refused() -> None:
    with pytest.raises(ValidationError, match="plain http://"):
        AwsSecretsManagerConfig.model_validate(
            {"type": "aws_secrets_manager", "endpoint_url": "http://secrets.example.com"}
        )
    with pytest.raises(ValidationError, match="not both"):
        AwsSecretsManagerConfig.model_validate(
            {"type": "aws_secrets_manager", "version_stage": "AWSCURRENT", "version_id": "v"}
        )
