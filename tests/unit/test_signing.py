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


def test_webhook_signatures_match_the_spec_vectors() -> None:
    from mediavault.domain.webhooks import signature_headers

    body = (
        '{"id":"3f6f7f0e-4c1d-4a3e-9b8a-1d2c3b4a5f60","type":"file-version.deleted",'
        '"created_at":"2024-03-05T08:41:00.000Z","data":{"fileId":"65e1a0f3c2b4d5e6f7a8b9c0",'
        '"versionId":"65e6d8d4a1b2c3d4e5f60718"}}'
    )
    assert len(body) == 199
    headers = signature_headers(
        "3f6f7f0e-4c1d-4a3e-9b8a-1d2c3b4a5f60", body, "whsec_example_secret", 1709628060000
    )
    assert headers == {
        "webhook-id": "3f6f7f0e-4c1d-4a3e-9b8a-1d2c3b4a5f60",
        "webhook-timestamp": "1709628060",
        "webhook-signature": "v1,GhfskQHlC9nlbHn65nQFRG7fr2VK13+83d+0CHkN4i8=",
        "x-ik-signature": "t=1709628060000,"
        "v1=d6e78fb2bc6276f788bbeb51e2df056ea9e0f11ac398a61a18a5a9df7dc80bb1",
    }


def test_a_signature_or_expiry_beyond_ascii_is_simply_invalid() -> None:
    # Query strings are the client's: any character may arrive in ik-s or ik-t.
    assert not is_valid_signature("private_k", "a.jpg", "é" * 40, None, 0)
    assert not is_valid_signature("private_k", "a.jpg", sign("private_k", "a.jpg"), "١٢٣", 0)
