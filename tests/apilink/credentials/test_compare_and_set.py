"""compare_and_set on every store, against real parts: the encrypted file on tmp files, OpenBao
(KV v2 and v1) and AWS Secrets Manager (moto's server), and a plain store without versions."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from apilink.config import VaultStoreConfig
from apilink.config.credentials import AwsSecretsManagerConfig
from apilink.credentials import EncryptedFileStore, VaultStore
from apilink.credentials.aws import PENDING_STAGE, AwsSecretsManagerStore
from apilink.credentials.base import (
    CredentialStore,
    Versioned,
    VersionedStore,
    compare_and_set,
    read_versioned,
)
from apilink.credentials.kdf import SCRYPT_FLOOR
from apilink.errors import AwsSecretConflict, AwsSecretsManagerError, CredentialConflict
from tests.fixtures.aws import MotoServer
from tests.fixtures.oauth_server import MemoryStore
from tests.fixtures.openbao import OpenBao

RT_OLD = "rt-old-canary-4b1e"
RT_A = "rt-a-canary-77c0"
RT_B = "rt-b-canary-0d93"

StoreFactory = Callable[[], CredentialStore]
"""Opens another handle on the same store (as another worker would)."""

KINDS = ["file", "vault_kv2", "vault_kv1", "aws", "plain"]


@pytest.fixture
def kv1_mount(openbao: OpenBao) -> str:
    root = openbao.client()
    if "kv1cas/" not in root.sys.list_mounted_secrets_engines()["data"]:
        root.sys.enable_secrets_engine("kv", path="kv1cas", options={"version": "1"})
    return "kv1cas"


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def opener(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    if kind == "file":
        path = tmp_path / "tokens.enc"
        yield lambda: EncryptedFileStore(path, "master-canary-31", kdf_params=SCRYPT_FLOOR)
    elif kind.startswith("vault"):
        server: OpenBao = request.getfixturevalue("openbao")
        mount = request.getfixturevalue("kv1_mount") if kind == "vault_kv1" else "secret"
        config = VaultStoreConfig.model_validate(
            {
                "type": "vault",
                "url": server.url,
                "auth": {"method": "token", "token": server.root_token},
                "mount_point": mount,
                "kv_version": 1 if kind == "vault_kv1" else 2,
                "path_prefix": f"cas-{uuid.uuid4().hex[:8]}/",
            }
        )
        yield lambda: VaultStore(config)
    elif kind == "aws":
        moto: MotoServer = request.getfixturevalue("moto_server")
        # moto keeps one backend per process, across servers; start from an empty one (its
        # plain puts also mislabel a secret whose AWSCURRENT another test moved).
        httpx.post(f"{moto.url}/moto-api/reset").raise_for_status()
        aws = AwsSecretsManagerConfig.model_validate(
            {"type": "aws_secrets_manager", "region": moto.region, "endpoint_url": moto.url}
        )
        yield lambda: AwsSecretsManagerStore(aws)
    else:
        shared = MemoryStore()
        yield lambda: shared


def test_every_native_store_is_a_versioned_store(opener: StoreFactory, kind: str) -> None:
    assert isinstance(opener(), VersionedStore) == (kind != "plain")


def test_a_write_at_the_version_read_lands_and_gives_a_new_version(opener: StoreFactory) -> None:
    store = opener()
    store.put("oauth", {"refresh_token": RT_OLD})
    read = read_versioned(store, "oauth")
    assert read is not None and read.entry == {"refresh_token": RT_OLD}

    version = compare_and_set(store, "oauth", {"refresh_token": RT_A}, read.version)

    again = read_versioned(opener(), "oauth")
    assert again is not None
    assert again.entry == {"refresh_token": RT_A}
    assert again.version == version != read.version


def test_the_second_writer_of_the_same_version_is_refused_and_writes_nothing(
    opener: StoreFactory,
) -> None:
    worker_a, worker_b = opener(), opener()
    worker_a.put("oauth", {"refresh_token": RT_OLD})
    seen_a = read_versioned(worker_a, "oauth")
    seen_b = read_versioned(worker_b, "oauth")
    assert seen_a is not None and seen_b is not None

    compare_and_set(worker_a, "oauth", {"refresh_token": RT_A}, seen_a.version)
    with pytest.raises(CredentialConflict) as caught:
        compare_and_set(worker_b, "oauth", {"refresh_token": RT_B}, seen_b.version)

    assert opener().get("oauth") == {"refresh_token": RT_A}
    for text in (str(caught.value), repr(caught.value), repr(seen_a)):
        for secret in (RT_OLD, RT_A, RT_B):
            assert secret not in text
    assert "'oauth'" in str(caught.value)


def test_expecting_nothing_creates_once_and_is_refused_after(opener: StoreFactory) -> None:
    store = opener()
    assert read_versioned(store, "fresh") is None
    compare_and_set(store, "fresh", {"refresh_token": RT_A}, None)
    with pytest.raises(CredentialConflict):
        compare_and_set(opener(), "fresh", {"refresh_token": RT_B}, None)
    assert opener().get("fresh") == {"refresh_token": RT_A}


# Only an atomic compare-and-set can promise this; moto's server is not thread-safe itself.
@pytest.mark.parametrize("kind", ["file", "vault_kv2"], indirect=True)
def test_no_increment_is_lost_between_concurrent_writers(opener: StoreFactory) -> None:
    opener().put("counter", {"n": 0})
    rounds, conflicts = 6, []  # conflicts: how often a writer had to read again

    def bump() -> None:
        store = opener()
        for _ in range(rounds):
            while True:
                read = read_versioned(store, "counter")
                assert read is not None
                try:
                    compare_and_set(store, "counter", {"n": read.entry["n"] + 1}, read.version)
                    break
                except CredentialConflict:
                    conflicts.append(1)

    workers = [threading.Thread(target=bump) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert opener().get("counter") == {"n": 2 * rounds}
    assert len(conflicts) < 100


def test_versioned_repr_names_fields_only() -> None:
    assert repr(Versioned({"refresh_token": RT_A}, "7")) == (
        "Versioned(fields=['refresh_token'], version=<opaque>)"
    )


def test_aws_loser_version_is_never_current_and_previous_is_the_one_read(
    moto_server: MotoServer,
) -> None:
    httpx.post(f"{moto_server.url}/moto-api/reset").raise_for_status()
    config = AwsSecretsManagerConfig.model_validate(
        {
            "type": "aws_secrets_manager",
            "region": moto_server.region,
            "endpoint_url": moto_server.url,
        }
    )
    worker_a, worker_b = AwsSecretsManagerStore(config), AwsSecretsManagerStore(config)
    worker_a.put("oauth", {"refresh_token": RT_OLD})
    seen = worker_a.get_versioned("oauth")

    won = worker_a.compare_and_set("oauth", {"refresh_token": RT_A}, seen.version)
    with pytest.raises(AwsSecretConflict):
        worker_b.compare_and_set("oauth", {"refresh_token": RT_B}, seen.version)

    versions: dict[str, Any] = {
        v["VersionId"]: v["VersionStages"]
        for v in moto_server.client().list_secret_version_ids(SecretId="oauth")["Versions"]
    }
    assert "AWSCURRENT" in versions[won]
    assert versions[seen.version] == ["AWSPREVIOUS"]
    (lost,) = [v for v, stages in versions.items() if v not in {won, seen.version}]
    assert versions[lost] == [PENDING_STAGE]  # put, never made current


def test_aws_pinned_version_id_cannot_be_written_back(moto_server: MotoServer) -> None:
    config = AwsSecretsManagerConfig.model_validate(
        {
            "type": "aws_secrets_manager",
            "region": moto_server.region,
            "endpoint_url": moto_server.url,
            "version_id": str(uuid.uuid4()),
        }
    )
    with pytest.raises(AwsSecretsManagerError, match="pins version_id"):
        AwsSecretsManagerStore(config).compare_and_set("oauth", {"refresh_token": RT_A}, "v")
