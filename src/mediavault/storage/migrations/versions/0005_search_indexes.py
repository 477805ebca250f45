"""search indexes: folder with creation time, creation time with id, tag with version id

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 05:00:00

Each new index replaces the one that is its first column, which it serves as well:

- files (folder_path, created_at): a folder's files in the default sort order, without
  sorting them (list one folder; a search within a large folder walks it in order).
- files (created_at, id): a search walking files in creation order reads the index alone
  for the files it passes over (mediavault.storage.search_plan).
- version_tags (tag, version_id): `tags IN [...]` reads the version ids from the index alone.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_REPLACED = (
    # table, old index, old columns, new index, new columns
    ("files", "ix_files_folder_path", ["folder_path"], "ix_files_folder_path_created_at",
     ["folder_path", "created_at"]),
    ("files", "ix_files_created_at", ["created_at"], "ix_files_created_at_id",
     ["created_at", "id"]),
    ("version_tags", "ix_version_tags_tag", ["tag"], "ix_version_tags_tag_version_id",
     ["tag", "version_id"]),
)  # fmt: skip


def upgrade() -> None:
    for table, old, _old_columns, new, new_columns in _REPLACED:
        op.create_index(new, table, new_columns, unique=False)
        op.drop_index(old, table_name=table)


def downgrade() -> None:
    for table, old, old_columns, new, _new_columns in _REPLACED:
        op.create_index(old, table, old_columns, unique=False)
        op.drop_index(new, table_name=table)
