"""Delivery URLs of versions as ImageKit's current docs write them (spec §7.2)."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import quote

from mediavault.domain.models import FileVersion

THUMBNAIL_TRANSFORMATION = "n-ik_ml_thumbnail"
# The characters RFC 3986 allows unencoded in a path; the SDKs encode with the same set.
PATH_SAFE_CHARS = "/:@!$&'()*+,;=-._~"
_THUMBNAIL_QUERY = f"&tr={THUMBNAIL_TRANSFORMATION}"


@lru_cache(maxsize=65536)
def quoted_path(file_path: str) -> str:
    """A list of versions quotes the same path for every one of them, twice."""
    return quote(file_path, safe=PATH_SAFE_CHARS)


class UrlBuilder:
    def __init__(self, url_endpoint: str) -> None:
        self.endpoint = url_endpoint.rstrip("/")

    def url(self, item: FileVersion) -> str:
        return self.url_and_thumbnail(item)[0]

    def thumbnail(self, item: FileVersion) -> str:
        return self.url_and_thumbnail(item)[1]

    def url_and_thumbnail(self, item: FileVersion) -> tuple[str, str]:
        version = item.version
        return self.version_urls(
            self.base(item.file.file_path), version.is_current, version.token, item.updated_at
        )

    @staticmethod
    def version_urls(base: str, is_current: bool, token: str, updated_at: int) -> tuple[str, str]:
        """A version's URL and its thumbnail's, from its file's base URL (`base`)."""
        # The current version never carries ik-obj-version; updatedAt only busts caches.
        if is_current:
            url = f"{base}?updatedAt={updated_at}"
        else:
            url = f"{base}?ik-obj-version={token}&updatedAt={updated_at}"
        return url, url + _THUMBNAIL_QUERY

    def base(self, file_path: str) -> str:
        """The URL of a file's path, without a query."""
        return self.endpoint + quoted_path(file_path)

    def plain_url(self, item: FileVersion) -> str:
        return self.base(item.file.file_path)

    def path_thumbnail(self, item: FileVersion) -> str:
        return f"{self.endpoint}/tr:{THUMBNAIL_TRANSFORMATION}{quoted_path(item.file.file_path)}"
