"""The V1 signature and V2 JWT rules of browser uploads, against the spec's test vectors."""

from __future__ import annotations

import pytest

from mediavault.domain import upload_auth
from mediavault.errors import Forbidden, InvalidRequest

# The spec's key is shorter than the 32 bytes PyJWT recommends for HS256; real keys are not.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
NOW = 1_699_999_000


def test_the_v1_signature_is_the_sdks() -> None:
    # imagekit-delivery-and-more.md 2.1: private_k, tok, 1700000000.
    signature = upload_auth.signature_v1("private_k", "tok", "1700000000")
    assert signature == "fd6e58c181ec750bc684413e87b200e58eb4723c"


def v1(**changes: str) -> dict[str, str]:
    fields = {"publicKey": "public_k", "token": "tok", "expire": "1700000000",
              "signature": "fd6e58c181ec750bc684413e87b200e58eb4723c", "fileName": "a.jpg"}  # fmt: skip
    return {**fields, **changes}


def test_a_good_v1_proof_is_named_by_its_token_and_outlives_its_expiry() -> None:
    proof = upload_auth.check_v1(v1(), "public_k", "private_k", NOW)
    assert proof.key.startswith("v1:") and len(proof.key) == 67
    assert proof.expires_at == (1_700_000_000 + upload_auth.CLOCK_SKEW_S) * 1000
    assert "'tok' has been used before" in proof.reused_message
    # Uppercase hex is the same signature.
    upper = v1(signature="FD6E58C181EC750BC684413E87B200E58EB4723C")
    assert upload_auth.check_v1(upper, "public_k", "private_k", NOW).key == proof.key


@pytest.mark.parametrize(
    ("fields", "now", "error", "message"),
    [
        (v1(), 1_700_000_000, InvalidRequest, upload_auth.INVALID_EXPIRE),  # not in the future
        (v1(), 1_700_000_000 - 3601, InvalidRequest, upload_auth.INVALID_EXPIRE),  # > 1 h ahead
        (v1(expire="1e9"), NOW, InvalidRequest, upload_auth.INVALID_EXPIRE),
        (v1(expire="-1"), NOW, InvalidRequest, upload_auth.INVALID_EXPIRE),
        (v1(publicKey="public_x"), NOW, Forbidden, "Your account cannot be authenticated."),
        (v1(token="tok2"), NOW, InvalidRequest, upload_auth.INVALID_SIGNATURE),
        (v1(signature=""), NOW, InvalidRequest, "Your request is missing signature parameter."),
    ],
)
def test_v1_refusals(
    fields: dict[str, str], now: int, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as raised:
        upload_auth.check_v1(fields, "public_k", "private_k", now)
    assert str(raised.value) == message


def test_missing_fields_are_named_in_the_spec_order() -> None:
    fields = v1()
    del fields["publicKey"], fields["expire"]
    with pytest.raises(InvalidRequest, match="missing publicKey parameter"):
        upload_auth.check_v1(fields, "public_k", "private_k", NOW)


VECTOR = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InB1YmxpY19rIn0.eyJmaWxlTmFtZSI6ImRyZXNzLmpwZ"
    "yIsInVzZVVuaXF1ZUZpbGVOYW1lIjoiZmFsc2UiLCJ0YWdzIjoic3VtbWVyLGRyZXNzIiwiaWF0IjoxNzAwMDAwMDA"
    "wLCJleHAiOjE3MDAwMDA0MDB9.LNpq5G3ssU-byaMW4fFmqnD4HkYNS9IPJNCkkjgo3BI"
)
SIGNED = {"fileName": "dress.jpg", "useUniqueFileName": "false", "tags": "summer,dress"}


def test_the_spec_jwt_verifies_with_its_fields() -> None:
    proof = upload_auth.check_v2({**SIGNED, "token": VECTOR}, "public_k", "private_k", NOW + 900)
    assert proof.key.startswith("v2:") and proof.reused_message == upload_auth.INVALID_TOKEN


@pytest.mark.parametrize(
    ("fields", "now", "message"),
    [
        ({**SIGNED, "token": VECTOR}, 1_700_000_400, upload_auth.EXPIRED_TOKEN),
        ({**SIGNED, "folder": "/x", "token": VECTOR}, NOW + 900, upload_auth.PAYLOAD_MISMATCH),
        ({**SIGNED, "tags": "summer", "token": VECTOR}, NOW + 900, upload_auth.PAYLOAD_MISMATCH),
        ({"fileName": "dress.jpg", "token": VECTOR}, NOW + 900, upload_auth.PAYLOAD_MISMATCH),
        ({**SIGNED, "token": VECTOR[:-2] + "AA"}, NOW + 900, upload_auth.INVALID_TOKEN),
    ],
)
def test_v2_refusals(fields: dict[str, str], now: int, message: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        upload_auth.check_v2(fields, "public_k", "private_k", now)
    assert raised.value.message == message


def test_v2_needs_the_kid_of_this_server() -> None:
    with pytest.raises(InvalidRequest):
        upload_auth.check_v2({**SIGNED, "token": VECTOR}, "public_other", "private_k", NOW + 900)
