"""Password hashing over md5hex and signed tokens (design.md §7)."""

from __future__ import annotations

from polyim.core.auth import (
    TokenSigner,
    hash_password,
    md5hex,
    normalise,
    verify_normalised,
)


def test_one_stored_hash_verifies_plaintext_and_md5hex() -> None:
    stored = hash_password("s3cret-pässword")
    assert stored.startswith("$argon2id$")
    assert "s3cret" not in stored
    digest = md5hex("s3cret-pässword")
    assert verify_normalised(stored, normalise("s3cret-pässword"))
    assert verify_normalised(stored, normalise(digest, is_md5=True))
    assert verify_normalised(stored, normalise(digest.upper(), is_md5=True))  # hex case does not matter
    assert not verify_normalised(stored, normalise("wrong"))
    assert not verify_normalised(stored, normalise(md5hex("wrong"), is_md5=True))
    # an MD5 hex sent as a *plaintext* password is a different password
    assert not verify_normalised(stored, normalise(digest))
    # is_md5 with something that is not an MD5 hex falls back to hashing it as plaintext
    assert normalise("not-hex", is_md5=True) == md5hex("not-hex")
    assert not verify_normalised("garbage", normalise("x"))


def test_hashes_are_salted() -> None:
    assert hash_password("pw") != hash_password("pw")


def test_token_round_trip() -> None:
    signer = TokenSigner(b"secret")
    token = signer.issue(18600522324, "phone-1", 3600, now=1000)
    assert TokenSigner.looks_like_token(token)
    claims = signer.verify(token, now=1000)
    assert claims is not None
    assert (claims.uid, claims.device, claims.expires) == (18600522324, "phone-1", 4600)


def test_token_expired() -> None:
    signer = TokenSigner(b"secret")
    token = signer.issue(10000, "d", 60, now=1000)
    assert signer.verify(token, now=1059) is not None
    assert signer.verify(token, now=1060) is None
    assert signer.verify(token, now=5000) is None


def test_token_wrong_secret() -> None:
    token = TokenSigner(b"secret").issue(10000, "d", 60, now=1000)
    assert TokenSigner(b"other").verify(token, now=1000) is None


def test_token_tampered() -> None:
    signer = TokenSigner(b"secret")
    token = signer.issue(10000, "d", 60, now=1000)
    other = signer.issue(10001, "d", 60, now=1000)
    prefix, body, mac = token[:5], *token[5:].split(".")
    other_body = other[5:].split(".")[0]
    assert signer.verify(f"{prefix}{other_body}.{mac}", now=1000) is None  # someone else's uid
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    assert signer.verify(f"{prefix}{flipped}.{mac}", now=1000) is None
    assert signer.verify(f"{prefix}{body}.{mac[:-1]}", now=1000) is None
    for junk in ("", "pim1.", "pim1.a.b.c", "pim1.!!!.???", token[5:], "pim2" + token[4:], token + "x"):
        assert signer.verify(junk, now=1000) is None


def test_a_derived_signers_tokens_are_never_logins_nor_another_purposes() -> None:
    login = TokenSigner(b"secret")
    pages = login.derived("imlc-sync")
    token = pages.issue(10000, "sync:5:0", 600, now=1000)
    claims = pages.verify(token, now=1000)
    assert claims is not None and (claims.uid, claims.device) == (10000, "sync:5:0")
    assert login.verify(token, now=1000) is None
    assert login.derived("other").verify(token, now=1000) is None
    assert pages.verify(login.issue(10000, "sync:5:0", 600, now=1000), now=1000) is None
    assert TokenSigner(b"secret").derived("imlc-sync").verify(token, now=1000) is not None  # stable key
