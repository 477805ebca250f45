"""The spec's test vectors (§7.4), made with the official SDK's URL helper."""

from __future__ import annotations

from mediavault.api.auth import private_key_of
from mediavault.domain.signing import is_valid_signature, sign


def test_signature_of_a_url_that_never_expires() -> None:
    assert sign("private_k", "animals/cat.jpg") == "4f83d88e9507b908b6ed602b7bd6b1765208fc99"


def test_signature_of_a_version_url_with_expiry() -> None:
    relative = "animals/cat.jpg?ik-obj-version=Qm3x&updatedAt=1709627412102"
    expected = "7510b0e6eb2a889a2a598bb5a3cbfce73b94b2db"
    assert sign("private_k", relative, "1795433410") == expected
    assert is_valid_signature("private_k", relative, expected, "1795433410", now=1795433409)
    assert not is_valid_signature("private_k", relative, expected, "1795433410", now=1795433411)
    assert not is_valid_signature("private_k", relative + "x", expected, "1795433410", now=0)
    assert not is_valid_signature("private_j", relative, expected, "1795433410", now=0)
    assert not is_valid_signature("private_k", relative, expected, "abc", now=0)


def test_basic_auth_user_name_is_the_key_and_the_password_is_ignored() -> None:
    assert private_key_of("Basic cHJpdmF0ZV90ZXN0X2tleTpkb19ub3Rfc2V0") == "private_test_key"
    assert private_key_of("basic cHJpdmF0ZV9rOg==") == "private_k"
    assert private_key_of("Basic OnBhc3M=") is None  # empty user name
    assert private_key_of("Bearer x") is None
    assert private_key_of("Basic %%%") is None
    assert private_key_of(None) is None
