"""A small synchronous client of ImageKit's REST API and delivery URLs, over httpx.

httpx rather than the official SDK: the importer and the command line need streamed downloads
of signed `ik-obj-version` URLs, paging as the wire has it and the raw error status of every
answer, and httpx is already a runtime dependency (the SDK stays a test dependency).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, quote, urlsplit

import httpx

from mediavault.domain.signing import sign
from mediavault.urls import PATH_SAFE_CHARS

PAGE = 1000  # ImageKit's largest `limit`
JsonObject = dict[str, Any]


class ApiError(Exception):
    """An answer other than 2xx, or no answer at all (status 0)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message

    @property
    def not_found(self) -> bool:
        return self.status == 404


class ApiClient:
    def __init__(
        self, api_url: str, private_key: str, url_endpoint: str | None = None, timeout: float = 60
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.url_endpoint = (url_endpoint or f"{self.api_url}/media").rstrip("/")
        self._key = private_key
        self._http = httpx.Client(auth=(private_key, ""), timeout=timeout)

    def close(self) -> None:
        self._http.close()

    # -- the Media Library API ---------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            answer = self._http.request(method, self.api_url + path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(0, f"{self.api_url} is unreachable: {exc}") from None
        if answer.status_code >= 300:
            raise ApiError(answer.status_code, _message(answer))
        return answer.json() if answer.content else None

    def list_page(self, kind: str, path: str, skip: int, limit: int = PAGE) -> list[JsonObject]:
        params = {"type": kind, "path": path, "skip": skip, "limit": limit, "sort": "ASC_CREATED"}
        result: list[JsonObject] = self._call("GET", "/v1/files", params=params)
        return result

    def list_all(self, kind: str, path: str) -> Iterator[JsonObject]:
        """Every item of one kind (`file`, `folder`, `all`) directly in the folder `path`."""
        skip = 0
        while True:
            page = self.list_page(kind, path, skip)
            yield from page
            if len(page) < PAGE:
                return
            skip += len(page)

    def search(self, query: str) -> list[JsonObject]:
        result: list[JsonObject] = self._call(
            "GET", "/v1/files", params={"searchQuery": query, "limit": PAGE}
        )
        return result

    def details(self, file_id: str) -> JsonObject:
        result: JsonObject = self._call("GET", f"/v1/files/{_q(file_id)}/details")
        return result

    def versions(self, file_id: str) -> list[JsonObject]:
        """Current first, as the API answers."""
        result: list[JsonObject] = self._call("GET", f"/v1/files/{_q(file_id)}/versions")
        return result

    def restore(self, file_id: str, version_id: str) -> JsonObject:
        path = f"/v1/files/{_q(file_id)}/versions/{_q(version_id)}/restore"
        result: JsonObject = self._call("PUT", path)
        return result

    def delete_version(self, file_id: str, version_id: str) -> None:
        self._call("DELETE", f"/v1/files/{_q(file_id)}/versions/{_q(version_id)}")

    def custom_metadata_fields(self) -> list[JsonObject]:
        result: list[JsonObject] = self._call("GET", "/v1/customMetadataFields")
        return result

    def upload(
        self, content: BinaryIO, file_name: str, folder: str, size: int | None = None
    ) -> JsonObject:
        """A new file, or the next version of the file at folder + file_name."""
        fields = {"fileName": file_name, "folder": folder, "useUniqueFileName": "false"}
        files = {"file": (file_name, content, "application/octet-stream")}
        result: JsonObject = self._call(
            "POST", "/api/v1/files/upload", data=fields, files=files, timeout=None
        )
        return result

    # -- delivery ------------------------------------------------------------------------------

    def delivery_url(self, item: JsonObject, signed: bool, expires_in: int = 3600) -> str:
        """The URL of the version `item` (a File object) under our URL endpoint: its path, and
        its `ik-obj-version` unless it is the current one; signed as ImageKit's SDKs sign
        (spec 1.4) when `signed`."""
        relative = quote(item["filePath"].lstrip("/"), safe=PATH_SAFE_CHARS)
        token = version_token(item)
        if token is not None:
            relative += f"?ik-obj-version={quote(token, safe='')}"
        url = f"{self.url_endpoint}/{relative}"
        if not signed:
            return url
        expires = str(int(time.time()) + expires_in)
        joiner = "&" if "?" in relative else "?"
        return f"{url}{joiner}ik-t={expires}&ik-s={sign(self._key, relative, expires)}"

    @contextmanager
    def stream(self, url: str) -> Iterator[Iterator[bytes]]:
        """The body of a delivery URL in chunks; ApiError for anything but a 200."""
        try:
            with self._http.stream("GET", url, auth=None) as answer:
                if answer.status_code != 200:
                    answer.read()
                    raise ApiError(answer.status_code, _message(answer))
                yield answer.iter_bytes(1 << 20)
        except httpx.HTTPError as exc:
            raise ApiError(0, f"{url} could not be read: {exc}") from None


def version_token(item: JsonObject) -> str | None:
    """The `ik-obj-version` of a File object's URL: None for the current version."""
    query = urlsplit(item.get("url") or "").query
    return dict(parse_qsl(query)).get("ik-obj-version")


def _q(segment: str) -> str:
    return quote(segment, safe="")


def _message(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except (ValueError, json.JSONDecodeError):
        return answer.text[:200] or answer.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return answer.text[:200]
