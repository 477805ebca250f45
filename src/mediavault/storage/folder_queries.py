"""SQL for folders: implied by uploads, created and deleted explicitly."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from mediavault.domain.ids import new_object_id
from mediavault.domain.models import Folder
from mediavault.domain.names import folder_ancestors, folder_name_of
from mediavault.storage.dialects import escape_like, insert_ignoring_duplicates
from mediavault.storage.tables import files, folders, versions


class FolderQueries:
    _db: sa.Connection

    def ensure_folders(self, folder_path: str, now: int) -> None:
        """Create `folder_path` and every ancestor that does not exist yet."""
        for path in folder_ancestors(folder_path):
            name = folder_name_of(path)
            self._db.execute(
                insert_ignoring_duplicates(self._db, folders, ["folder_path"]).values(
                    id=new_object_id(),
                    folder_path=path,
                    name=name,
                    parent_path=path[: len(path) - len(name) - 1],
                    created_at=now,
                    updated_at=now,
                )
            )

    def get_folder(self, folder_path: str) -> Folder | None:
        row = self._db.execute(
            sa.select(folders).where(folders.c.folder_path == folder_path)
        ).first()
        return folder_from(row) if row else None

    def count_folder_contents(self, folder_path: str) -> int:
        """Folders, files and versions under the folder, at any depth."""
        below = _below(folder_path)
        nested_folders = self._db.scalar(
            sa.select(sa.func.count()).select_from(folders).where(below(folders.c.folder_path))
        )
        nested_versions = self._db.scalar(
            sa.select(sa.func.count())
            .select_from(versions.join(files, files.c.id == versions.c.file_id))
            .where(below(files.c.folder_path))
        )
        return int(nested_folders or 0) + int(nested_versions or 0)

    def file_ids_under(self, folder_path: str) -> list[str]:
        below = _below(folder_path)
        return list(self._db.scalars(sa.select(files.c.id).where(below(files.c.folder_path))))

    def delete_folders_under(self, folder_path: str) -> None:
        """Delete the folder and its sub-folders (their files are deleted by the caller)."""
        self._db.execute(sa.delete(folders).where(_below(folder_path)(folders.c.folder_path)))


def _below(folder_path: str) -> Any:
    """A predicate: the path is `folder_path` itself or anything inside it."""
    pattern = escape_like(folder_path) + "%"
    return lambda column: column.like(pattern, escape="\\")


def folder_from(row: sa.Row[Any]) -> Folder:
    return Folder(row.id, row.folder_path, row.name, row.created_at, row.updated_at)
