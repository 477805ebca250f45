"""Domain errors, with no HTTP in them: the API maps them to statuses in one table.

MediaVaultError
├── InvalidRequest            a parameter is missing or malformed
│   ├── InvalidFileId
│   ├── InvalidVersionId
│   ├── CannotDeleteCurrentVersion
│   ├── VersionPinned         deleting a pinned version
│   ├── NotComparable         a heatmap of versions that are not both pictures
│   ├── FileAlreadyExists     overwriteFile=false onto an existing path
│   ├── VersionLimitReached
│   ├── FileTooLarge
│   ├── BadTransformation     a `tr` value the image engine refuses (unknown or invalid)
│   │   └── TransformationLimit   the image or the requested output exceeds a limit
│   ├── InvalidPurgeUrl       a purge of a URL that is not this server's delivery
│   └── UnknownPurgeRequest   a purge status for an id never issued (ImageKit: 400, not 404)
├── RequestTimeout            the client stopped sending the body
├── Unauthenticated           no private key supplied
├── Forbidden                 the key is not the account's
├── Conflict                  e.g. rename onto an existing name
│   ├── WriteConflict         lost a race with a concurrent write; retried before it surfaces
│   ├── RetentionPolicyExists a second policy for one folder
│   ├── PathTaken             a file restored from the trash onto a path in use
│   └── IdempotencyKeyInUse   the first request with this Idempotency-Key is still running
├── PreconditionFailed        If-Match / If-None-Match do not hold: nothing changed
├── IdempotencyKeyReused      the same Idempotency-Key with a different request
├── NotFound
│   ├── FileNotFound
│   ├── VersionNotFound
│   ├── AssetNotFound         the versions endpoints' wording for a missing file or version
│   ├── RetentionPolicyNotFound
│   └── FilesNotFound         bulk delete: carries the missing ids
├── StorageUnavailable        the object store failed; the request changed nothing
└── BlobMissing               stored bytes are gone: a broken invariant, never the client's fault

The messages are ImageKit's own, byte for byte, where ImageKit documents one.
"""

from __future__ import annotations

from typing import Any


class MediaVaultError(Exception):
    message = "An unexpected error occurred."
    # ImageKit's machine-readable `reason`, on the endpoints that document one.
    reason: str | None = None

    def __init__(
        self,
        message: str | None = None,
        *,
        reason: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.reason = reason or self.reason
        # Further keys of the error body, e.g. `errors` of an invalid custom metadata value.
        self.extra = extra or {}


class InvalidRequest(MediaVaultError):
    pass


class InvalidFileId(InvalidRequest):
    message = "Your request contains invalid fileId parameter."


class InvalidVersionId(InvalidRequest):
    message = "Your request contains invalid versionId parameter."


class CannotDeleteCurrentVersion(InvalidRequest):
    message = "You cannot delete current version of a file."


class VersionPinned(InvalidRequest):
    message = "This version is pinned; unpin it before deleting it."


class NotComparable(InvalidRequest):
    message = "A difference image needs two versions that are both images this server decodes."


class FileAlreadyExists(InvalidRequest):
    message = (
        "A file with the same name already exists at the exact location. We could not overwrite "
        "it because both overwriteFile and useUniqueFileName are set to false."
    )


class VersionLimitReached(InvalidRequest):
    message = "A file can have a maximum of 100 versions."


class FileTooLarge(InvalidRequest):
    message = "Your request contains invalid file parameter. The file size exceeds limits."


class RequestTimeout(MediaVaultError):
    message = "Your request timed out: the body stopped arriving. Please try again."


class Unauthenticated(MediaVaultError):
    message = "Your request does not contain private API key."


class Forbidden(MediaVaultError):
    message = "Your account cannot be authenticated."


class NotFound(MediaVaultError):
    message = "The requested resource does not exist."


class FileNotFound(NotFound):
    message = "The requested file does not exist."


class VersionNotFound(NotFound):
    message = "The requested file version does not exist."


class AssetNotFound(NotFound):
    message = "The requested asset does not exist."


class RetentionPolicyNotFound(NotFound):
    message = "The requested retention policy does not exist."


class FilesNotFound(NotFound):
    message = "The requested file(s) does not exist."

    def __init__(self, missing_file_ids: list[str]) -> None:
        super().__init__()
        self.missing_file_ids = missing_file_ids


class Conflict(MediaVaultError):
    message = "The request conflicts with the current state of the resource."


class WriteConflict(Conflict):
    """A concurrent request changed the same rows first; running again will succeed."""

    message = "Another request changed this resource at the same time. Please try again."


class RetentionPolicyExists(Conflict):
    message = (
        "This folder already has a retention policy. Delete it first to replace it: one policy "
        "per folder."
    )


class PathTaken(Conflict):
    message = "A file already exists at this path."


class IdempotencyKeyInUse(Conflict):
    """The first request with this key is still running; once it ends, a retry replays it."""

    message = "A request with this Idempotency-Key is still being processed. Retry it later."


class PreconditionFailed(MediaVaultError):
    """An If-Match or If-None-Match condition does not hold; the request changed nothing."""

    message = "The file has changed."


class IdempotencyKeyReused(MediaVaultError):
    message = (
        "This Idempotency-Key was already used with a different request. "
        "Use a new key for a new request."
    )


class StorageUnavailable(MediaVaultError):
    """The blob store failed (network, permissions); the request changed nothing."""

    message = "The storage backend is unavailable. Please try again later."


class StorageFull(StorageUnavailable):
    """The disk or quota has no room for the bytes; the upload is dropped, nothing changed."""

    message = "There is no space left to store this file. Please try again later."


class BlobMissing(MediaVaultError):
    message = "The stored content of this file is missing."


class BadTransformation(InvalidRequest):
    """A delivery transformation (`tr`) that cannot be applied: an unknown or unsupported
    parameter, an invalid value, an unknown named transformation.

    `message` is ImageKit's fixed wording; `detail` says what was wrong and `ik_error` is the
    value of ImageKit's `ik-error` response header (`<CODE> - <detail>`).
    """

    message = "Bad Image Transformation Request"
    code = "EINVALID"

    def __init__(self, detail: str) -> None:
        super().__init__()
        self.detail = detail

    @property
    def ik_error(self) -> str:
        return f"{self.code} - {self.detail}"

    def __str__(self) -> str:
        return f"{self.message} ({self.ik_error})"


class TransformationLimit(BadTransformation):
    """The input image or a requested output is larger than the engine's limits."""

    code = "ELIMIT"


class InvalidPurgeUrl(InvalidRequest):
    message = "The URL is not valid for cache purging."


class UnknownPurgeRequest(InvalidRequest):
    message = "No request found for this requestId."
