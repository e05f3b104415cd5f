"""One worker process of tests/e2e/test_token_rotation.py: ``python -m tests.e2e.refresh_worker``.

It opens the shared store, loads the stored PKCE token (its access token already expired),
says ``ready``, waits for a line on stdin, then calls the protected resource, which makes it
refresh. It prints one JSON line: the resource's status and a digest of the access token it
ended with (never a token).

Args (JSON on argv[1]): ``server`` (the OAuth server's URL), ``store`` (``{"type": "file",
"path": ...}`` with ``APILINK_MASTER_PASSWORD`` set, or a ``credentials:`` section for
``open_store``), ``storage_key``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

import httpx
from pydantic import TypeAdapter

from apilink.auth import StoredTokenAuth
from apilink.config import SecurityConfig
from apilink.config.auth import OAuth2PKCEConfig
from apilink.config.credentials import CredentialStoreConfig
from apilink.credentials import EncryptedFileStore, open_store
from apilink.credentials.base import CredentialStore
from apilink.credentials.kdf import SCRYPT_FLOOR
from tests.servers.oauth.models import PUBLIC_CLIENT, REDIRECT_URI


def _store(spec: dict[str, Any]) -> CredentialStore:
    if spec["type"] == "file":  # at the KDF floor, to stay fast
        return EncryptedFileStore(spec["path"], kdf_params=SCRYPT_FLOOR)
    config = TypeAdapter(CredentialStoreConfig).validate_python(spec)
    store = open_store(config, SecurityConfig())
    assert store is not None
    return store


def main(argv: list[str]) -> int:
    args = json.loads(argv[1])
    config = OAuth2PKCEConfig.model_validate(
        {
            "type": "oauth2_pkce",
            "client_id": PUBLIC_CLIENT,
            "redirect_uri": REDIRECT_URI,
            "authorization_url": args["server"] + "/authorize",
            "token_url": args["server"] + "/token",
            "storage_key": args["storage_key"],
        }
    )
    auth = StoredTokenAuth(config, token_store=_store(args["store"]))
    loaded = auth.load_token()
    assert loaded is not None
    auth.use_token(loaded)
    print("ready", flush=True)
    sys.stdin.readline()
    with httpx.Client(auth=auth, timeout=30) as client:
        status = client.get(args["server"] + "/api/items").status_code
    token = auth.token
    digest = hashlib.sha256(token.access_token.encode()).hexdigest()[:16] if token else None
    print(json.dumps({"status": status, "access_token_sha256": digest}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
