"""Delivery URLs of versions as ImageKit's current docs write them (spec §7.2)."""

from __future__ import annotations

from urllib.parse import quote

from mediavault.domain.models import FileVersion

THUMBNAIL_TRANSFORMATION = "n-ik_ml_thumbnail"
# The characters RFC 3986 allows unencoded in a path; the SDKs encode with the same set.
PATH_SAFE_CHARS = "/:@!$&'()*+,;=-._~"


class UrlBuilder:
    def __init__(self, url_endpoint: str) -> None:
        self.endpoint = url_endpoint.rstrip("/")

    def url(self, item: FileVersion) -> str:
        return f"{self._base(item)}{self._query(item)}"

    def thumbnail(self, item: FileVersion) -> str:
        return f"{self._base(item)}{self._query(item)}&tr={THUMBNAIL_TRANSFORMATION}"

    def plain_url(self, item: FileVersion) -> str:
        return self._base(item)

    def path_thumbnail(self, item: FileVersion) -> str:
        path = quote(item.file.file_path, safe=PATH_SAFE_CHARS)
        return f"{self.endpoint}/tr:{THUMBNAIL_TRANSFORMATION}{path}"

    def _base(self, item: FileVersion) -> str:
        return self.endpoint + quote(item.file.file_path, safe=PATH_SAFE_CHARS)

    @staticmethod
    def _query(item: FileVersion) -> str:
        # The current version never carries ik-obj-version; updatedAt only busts caches.
        if item.version.is_current:
            return f"?updatedAt={item.updated_at}"
        return f"?ik-obj-version={item.version.token}&updatedAt={item.updated_at}"
