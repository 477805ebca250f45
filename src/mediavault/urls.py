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
        return f"{self._base(item)}{self._query(item)}"

    def url_and_thumbnail(self, item: FileVersion) -> tuple[str, str]:
        """Both at once: the thumbnail's URL is the version's with the transformation added."""
        url = self.endpoint + quoted_path(item.file.file_path) + self._query(item)
        return url, url + _THUMBNAIL_QUERY

    def thumbnail(self, item: FileVersion) -> str:
        return f"{self._base(item)}{self._query(item)}&tr={THUMBNAIL_TRANSFORMATION}"

    def plain_url(self, item: FileVersion) -> str:
        return self._base(item)

    def path_thumbnail(self, item: FileVersion) -> str:
        return f"{self.endpoint}/tr:{THUMBNAIL_TRANSFORMATION}{quoted_path(item.file.file_path)}"

    def _base(self, item: FileVersion) -> str:
        return self.endpoint + quoted_path(item.file.file_path)

    @staticmethod
    def _query(item: FileVersion) -> str:
        # The current version never carries ik-obj-version; updatedAt only busts caches.
        if item.version.is_current:
            return f"?updatedAt={item.updated_at}"
        return f"?ik-obj-version={item.version.token}&updatedAt={item.updated_at}"
