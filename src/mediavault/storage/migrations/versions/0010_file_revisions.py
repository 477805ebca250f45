"""file revisions: a counter per file that the database moves on every change

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 10:45:00

`files.revision` changes whenever the file's row or any of its versions' rows is inserted,
updated or deleted, by triggers, so that no write path can forget it: the version list's
answer is cached per worker and served again while the revision it was built at is current
(api/fast_reads.py). `trashed_files` carries it along, as it carries every file column.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_SQLITE_TRIGGERS = (
    # A change to the row itself; the update below changes the revision, so it stops there.
    """CREATE TRIGGER files_revision AFTER UPDATE ON files
       FOR EACH ROW WHEN NEW.revision = OLD.revision
       BEGIN UPDATE files SET revision = OLD.revision + 1 WHERE id = NEW.id; END""",
    """CREATE TRIGGER versions_insert_revision AFTER INSERT ON versions
       BEGIN UPDATE files SET revision = revision + 1 WHERE id = NEW.file_id; END""",
    """CREATE TRIGGER versions_update_revision AFTER UPDATE ON versions
       BEGIN UPDATE files SET revision = revision + 1
       WHERE id IN (OLD.file_id, NEW.file_id); END""",
    """CREATE TRIGGER versions_delete_revision AFTER DELETE ON versions
       BEGIN UPDATE files SET revision = revision + 1 WHERE id = OLD.file_id; END""",
)
_SQLITE_NAMES = (
    "files_revision",
    "versions_insert_revision",
    "versions_update_revision",
    "versions_delete_revision",
)

_POSTGRESQL = (
    """CREATE FUNCTION mediavault_file_revision() RETURNS trigger AS $$
       BEGIN
         IF NEW.revision = OLD.revision THEN
           NEW.revision := OLD.revision + 1;
         END IF;
         RETURN NEW;
       END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER files_revision BEFORE UPDATE ON files
       FOR EACH ROW EXECUTE FUNCTION mediavault_file_revision()""",
    """CREATE FUNCTION mediavault_version_revision() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'DELETE' THEN
           UPDATE files SET revision = revision + 1 WHERE id = OLD.file_id;
           RETURN OLD;
         END IF;
         IF TG_OP = 'UPDATE' AND OLD.file_id <> NEW.file_id THEN
           UPDATE files SET revision = revision + 1 WHERE id = OLD.file_id;
         END IF;
         UPDATE files SET revision = revision + 1 WHERE id = NEW.file_id;
         RETURN NEW;
       END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER versions_revision AFTER INSERT OR UPDATE OR DELETE ON versions
       FOR EACH ROW EXECUTE FUNCTION mediavault_version_revision()""",
)


def upgrade() -> None:
    for table in ("files", "trashed_files"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("revision", sa.BigInteger(), nullable=False, server_default="0")
            )
    statements = _POSTGRESQL if op.get_bind().dialect.name == "postgresql" else _SQLITE_TRIGGERS
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER versions_revision ON versions")
        op.execute("DROP TRIGGER files_revision ON files")
        op.execute("DROP FUNCTION mediavault_version_revision()")
        op.execute("DROP FUNCTION mediavault_file_revision()")
    else:
        for name in _SQLITE_NAMES:
            op.execute(f"DROP TRIGGER {name}")
    for table in ("files", "trashed_files"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("revision")
