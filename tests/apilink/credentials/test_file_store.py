"""EncryptedFileStore: a real file, real KDFs (at their floors, to stay fast), real processes."""

from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from pydantic import SecretStr

from apilink.credentials import EncryptedFileStore
from apilink.credentials import file_store as file_store_module
from apilink.credentials.file_format import HEADER_SIZE, NONCE_SIZE, SALT_SIZE, FileHeader
from apilink.credentials.kdf import ARGON2ID_FLOOR, SCRYPT_CEILING, SCRYPT_FLOOR, KdfParams
from apilink.errors import (
    CredentialError,
    CredentialExpired,
    CredentialFileError,
    CredentialNotFound,
    DecryptionError,
)

PASSWORD = "master-canary-7f3a9c"
TOKEN = "ghp_token_canary_51d2e8"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_store(path: Path, password: str = PASSWORD, **kwargs: object) -> EncryptedFileStore:
    kwargs.setdefault("kdf_params", SCRYPT_FLOOR)
    return EncryptedFileStore(path, password, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def cred_file(tmp_path: Path) -> Path:
    path = tmp_path / "credentials.enc"
    make_store(path).put("github_api", {"token": TOKEN})
    return path


def test_round_trip_list_delete(tmp_path: Path) -> None:
    store = make_store(tmp_path / "c.enc")
    assert store.list() == []
    store.put("b", {"token": SecretStr(TOKEN), "n": 3})
    store.put("a", {"user": "u"})
    assert store.list() == ["a", "b"]
    assert make_store(tmp_path / "c.enc").get("b") == {"token": TOKEN, "n": 3}
    store.delete("a")
    assert store.list() == ["b"]
    with pytest.raises(CredentialNotFound, match="'a'"):
        store.get("a")
    with pytest.raises(CredentialNotFound):
        store.delete("a")


@pytest.mark.parametrize("params", [SCRYPT_FLOOR, ARGON2ID_FLOOR], ids=lambda p: p.kdf)
def test_each_kdf_round_trips_and_the_file_holds_no_plaintext(
    tmp_path: Path, params: KdfParams
) -> None:
    path = tmp_path / "c.enc"
    make_store(path, kdf_params=params).put("github_api", {"token": TOKEN})
    data = path.read_bytes()
    assert TOKEN.encode() not in data and PASSWORD.encode() not in data
    assert b"github_api" not in data
    assert make_store(path, kdf_params=params).get("github_api") == {"token": TOKEN}


def test_file_written_with_one_kdf_is_read_by_a_store_set_to_the_other(tmp_path: Path) -> None:
    path = tmp_path / "c.enc"
    make_store(path, kdf_params=ARGON2ID_FLOOR).put("x", {"k": "v"})
    store = make_store(path, kdf_params=SCRYPT_FLOOR)
    assert store.get("x") == {"k": "v"}
    store.put("y", {"k": "w"})
    assert path.read_bytes()[9] == 1  # the rewrite uses the store's KDF (id 1 = scrypt)


def test_wrong_password_is_one_clear_error_and_leaves_the_file(cred_file: Path) -> None:
    before = cred_file.read_bytes()
    wrong = make_store(cred_file, "not-the-password")
    for attempt in (
        lambda: wrong.get("github_api"),
        lambda: wrong.list(),
        lambda: wrong.put("other", {"k": "v"}),
        lambda: wrong.delete("github_api"),
        lambda: wrong.rotate_password("new-password"),
    ):
        with pytest.raises(DecryptionError) as caught:
            attempt()
        message = str(caught.value)
        assert message == (
            "cannot decrypt the credential file: wrong master password or the file was changed"
        )
        assert caught.value.__cause__ is None and caught.value.__suppress_context__
        assert cred_file.read_bytes() == before


def test_every_bit_flip_and_truncation_is_detected(cred_file: Path) -> None:
    original = cred_file.read_bytes()
    assert len(original) < 130  # keeps the exhaustive loop fast
    store = make_store(cred_file)
    assert store.get("github_api") == {"token": TOKEN}  # caches the key of the real file
    variants = [
        original[:i] + bytes([original[i] ^ (1 << bit)]) + original[i + 1 :]
        for i in range(len(original))
        for bit in range(8)
    ]
    variants += [original[:n] for n in range(len(original))]
    for variant in variants:
        cred_file.write_bytes(variant)
        with pytest.raises((DecryptionError, CredentialFileError)) as caught:
            store.get("github_api")
        assert TOKEN not in str(caught.value) and PASSWORD not in str(caught.value)
        assert cred_file.read_bytes() == variant
    cred_file.write_bytes(original)
    assert store.get("github_api") == {"token": TOKEN}


def test_writes_are_refused_on_a_changed_file(cred_file: Path) -> None:
    original = bytearray(cred_file.read_bytes())
    original[-1] ^= 0x01
    cred_file.write_bytes(bytes(original))
    with pytest.raises(DecryptionError):
        make_store(cred_file).put("x", {"k": "v"})
    assert cred_file.read_bytes() == bytes(original)


def _weak_file(params: KdfParams) -> bytes:
    """A correctly encrypted file whose header carries ``params`` (scrypt), built by hand."""
    header = FileHeader(params=params, salt=b"s" * SALT_SIZE, nonce=b"n" * NONCE_SIZE).to_bytes()
    key = Scrypt(salt=b"s" * SALT_SIZE, length=32, n=2**10, r=8, p=1).derive(PASSWORD.encode())
    return header + AESGCM(key).encrypt(b"n" * NONCE_SIZE, b'{"entries":{}}', header)


@pytest.mark.parametrize(
    "params",
    [
        KdfParams("scrypt", 2**10, 8, 1),  # n below the floor
        KdfParams("scrypt", 2**14, 1, 1),  # r below the floor
        KdfParams("scrypt", 2**30, 8, 1),  # n above the ceiling: would need 128 GiB
        KdfParams("scrypt", 2**14 + 1, 8, 1),  # not a power of two
    ],
    ids=["n-floor", "r-floor", "n-ceiling", "n-not-power-of-2"],
)
def test_header_downgrade_and_absurd_costs_are_refused_before_any_kdf_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, params: KdfParams
) -> None:
    path = tmp_path / "c.enc"
    path.write_bytes(_weak_file(params))
    before = path.read_bytes()

    def no_kdf(*args: object) -> bytes:
        raise AssertionError("the KDF ran on a refused header")

    monkeypatch.setattr(file_store_module, "derive_key", no_kdf)
    store = make_store(path)
    for attempt in (lambda: store.get("x"), lambda: store.put("x", {"k": "v"})):
        with pytest.raises(CredentialFileError, match="KDF parameters refused"):
            attempt()
    assert path.read_bytes() == before


def test_store_refuses_to_write_with_params_outside_the_bounds(tmp_path: Path) -> None:
    with pytest.raises(CredentialFileError, match="below the floor"):
        make_store(tmp_path / "c.enc", kdf_params=KdfParams("argon2id", 1024, 1, 1))
    with pytest.raises(CredentialFileError, match="above the ceiling"):
        make_store(tmp_path / "c.enc", kdf_params=KdfParams("scrypt", 2**14, 8, 64))
    assert SCRYPT_CEILING.cost1 == 2**20


def test_not_a_credential_file(tmp_path: Path) -> None:
    path = tmp_path / "c.enc"
    path.write_bytes(b"token: plain text, not ours" * 4)
    with pytest.raises(CredentialFileError, match="not an apilink credential file"):
        make_store(path).list()


def test_file_and_lock_are_mode_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "c.enc"
        store = make_store(path)
        store.put("a", {"k": "v"})
        store.put("b", {"k": "v"})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(f"{path}.lock").stat().st_mode) == 0o600


def test_crash_before_replace_leaves_the_old_file_readable(
    cred_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = cred_file.read_bytes()

    def crash(src: object, dst: object) -> None:
        raise OSError("simulated crash between write and replace")

    monkeypatch.setattr(os, "replace", crash)
    store = make_store(cred_file)
    with pytest.raises(OSError, match="simulated crash"):
        store.put("new", {"k": "v"})
    with pytest.raises(OSError, match="simulated crash"):
        store.rotate_password("another-password")
    monkeypatch.undo()
    assert cred_file.read_bytes() == before
    assert sorted(p.name for p in cred_file.parent.iterdir()) == [
        "credentials.enc",
        "credentials.enc.lock",
    ]
    assert make_store(cred_file).get("github_api") == {"token": TOKEN}
    assert store.list() == ["github_api"]  # the store kept the old password


def test_rotate_password(cred_file: Path) -> None:
    store = make_store(cred_file)
    store.rotate_password(SecretStr("new-master-canary"))
    assert store.get("github_api") == {"token": TOKEN}
    assert make_store(cred_file, "new-master-canary").list() == ["github_api"]
    with pytest.raises(DecryptionError):
        make_store(cred_file).list()
    with pytest.raises(CredentialError, match="empty"):
        store.rotate_password("")


def test_expires_at_uses_the_injected_clock(tmp_path: Path) -> None:
    clock = Clock(1_000.0)
    store = make_store(tmp_path / "c.enc", now=clock)
    store.put("t", {"token": TOKEN, "expires_at": 2_000})
    assert store.get("t")["token"] == TOKEN
    clock.now = 2_000.0
    with pytest.raises(CredentialExpired) as caught:
        store.get("t")
    assert "'t'" in str(caught.value) and TOKEN not in str(caught.value)
    assert store.list() == ["t"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"token": object()}, "field 'token' is a object, not JSON"),
        ({"expires_at": "tomorrow"}, "`expires_at` must be Unix seconds"),
        ({"expires_at": float("inf")}, "not JSON"),
    ],
)
def test_bad_entries_are_refused_naming_the_field(
    tmp_path: Path, entry: dict[str, object], message: str
) -> None:
    with pytest.raises(CredentialError, match=message):
        make_store(tmp_path / "c.enc").put("x", entry)
    assert not (tmp_path / "c.enc").exists()


def test_master_password_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APILINK_MASTER_PASSWORD", raising=False)
    with pytest.raises(CredentialError, match="APILINK_MASTER_PASSWORD"):
        EncryptedFileStore(tmp_path / "c.enc", None, kdf_params=SCRYPT_FLOOR)
    with pytest.raises(CredentialError, match="no master password"):
        EncryptedFileStore(tmp_path / "c.enc", "", kdf_params=SCRYPT_FLOOR)
    monkeypatch.setenv("APILINK_MASTER_PASSWORD", PASSWORD)
    EncryptedFileStore(tmp_path / "c.enc", None, kdf_params=SCRYPT_FLOOR).put("a", {"k": "v"})
    assert make_store(tmp_path / "c.enc", PASSWORD).list() == ["a"]


def test_repr_never_shows_the_password(tmp_path: Path) -> None:
    store = make_store(tmp_path / "c.enc", kdf_params=ARGON2ID_FLOOR)
    assert PASSWORD not in repr(store) and PASSWORD not in str(vars(store))
    assert repr(store) == f"EncryptedFileStore(path={str(tmp_path / 'c.enc')!r}, kdf='argon2id')"


def _write_many(path: str, worker: int, count: int) -> None:
    store = EncryptedFileStore(path, PASSWORD, kdf_params=SCRYPT_FLOOR)
    for i in range(count):
        store.put(f"w{worker}-{i}", {"v": i})


def test_parallel_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "c.enc"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_many, args=(str(path), w, 25)) for w in range(8)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=240)
        assert process.exitcode == 0
    names = make_store(path).list()
    assert len(names) == 200
    assert set(names) == {f"w{w}-{i}" for w in range(8) for i in range(25)}


def _salt_nonce_pairs(path: str, count: int) -> list[bytes]:
    store = EncryptedFileStore(path, PASSWORD, kdf_params=ARGON2ID_FLOOR)
    seen = []
    for i in range(count):
        store.put("x", {"v": i})
        seen.append(Path(path).read_bytes()[HEADER_SIZE - SALT_SIZE - NONCE_SIZE : HEADER_SIZE])
    return seen


def test_a_thousand_writes_never_repeat_a_salt_and_nonce(tmp_path: Path) -> None:
    # Two processes of 500 writes each use both cores; every write runs the KDF afresh.
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        halves = pool.starmap(
            _salt_nonce_pairs, [(str(tmp_path / "a.enc"), 500), (str(tmp_path / "b.enc"), 500)]
        )
    pairs = halves[0] + halves[1]
    assert len(pairs) == 1000
    assert all(len(p) == SALT_SIZE + NONCE_SIZE for p in pairs)
    assert len(set(pairs)) == 1000
    assert len({p[:SALT_SIZE] for p in pairs}) == 1000
    assert len({p[SALT_SIZE:] for p in pairs}) == 1000
