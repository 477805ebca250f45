"""file revisions: a counter per file that the database moves on every change

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 10:45:00

`files.revision` changes whenever the file's row or any of its versions' rows is inserted,
updated or deleted, by triggers, so that no write path can forget it. Each new value comes
from one clock for the whole library (a table of one row on SQLite, whose writers take turns
anyway; a sequence on PostgreSQL), so no two states of any files share a revision. Answers
about a file are kept per worker and served again while the file's revision is the one they
were made at (api/fast_reads.py, api/routes/delivery.py). `trashed_files` carries the column
along, as it carries every file column; a row put back gets a new revision.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# A revision is taken from one clock for the whole library, never from the file's own
# count: a file made again at a path, or again under an id (an import after a purge), can
# never come back to a revision a worker kept an answer for.
_SQLITE = (
    """CREATE TABLE revision_clock (
       id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)""",
    "INSERT INTO revision_clock (id, value) VALUES (1, 0)",
    """CREATE TRIGGER files_insert_revision AFTER INSERT ON files
       BEGIN
         UPDATE revision_clock SET value = value + 1;
         UPDATE files SET revision = (SELECT value FROM revision_clock) WHERE id = NEW.id;
       END""",
    # A change to the row itself; the update below changes the revision, so it stops there.
    """CREATE TRIGGER files_revision AFTER UPDATE ON files
       FOR EACH ROW WHEN NEW.revision = OLD.revision
       BEGIN
         UPDATE revision_clock SET value = value + 1;
         UPDATE files SET revision = (SELECT value FROM revision_clock) WHERE id = NEW.id;
       END""",
    """CREATE TRIGGER versions_insert_revision AFTER INSERT ON versions
       BEGIN
         UPDATE revision_clock SET value = value + 1;
         UPDATE files SET revision = (SELECT value FROM revision_clock) WHERE id = NEW.file_id;
       END""",
    """CREATE TRIGGER versions_update_revision AFTER UPDATE ON versions
       BEGIN
         UPDATE revision_clock SET value = value + 1;
         UPDATE files SET revision = (SELECT value FROM revision_clock)
         WHERE id IN (OLD.file_id, NEW.file_id);
       END""",
    """CREATE TRIGGER versions_delete_revision AFTER DELETE ON versions
       BEGIN
         UPDATE revision_clock SET value = value + 1;
         UPDATE files SET revision = (SELECT value FROM revision_clock) WHERE id = OLD.file_id;
       END""",
)
_SQLITE_TRIGGERS = (
    "files_insert_revision",
    "files_revision",
    "versions_insert_revision",
    "versions_update_revision",
    "versions_delete_revision",
)

# A sequence: unique values without a row every writer would wait on.
_POSTGRESQL = (
    "CREATE SEQUENCE file_revisions",
    """CREATE FUNCTION mediavault_file_revision() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'INSERT' OR NEW.revision = OLD.revision THEN
           NEW.revision := nextval('file_revisions');
         END IF;
         RETURN NEW;
       END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER files_revision BEFORE INSERT OR UPDATE ON files
       FOR EACH ROW EXECUTE FUNCTION mediavault_file_revision()""",
    """CREATE FUNCTION mediavault_version_revision() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'DELETE' THEN
           UPDATE files SET revision = nextval('file_revisions') WHERE id = OLD.file_id;
           RETURN OLD;
         END IF;
         IF TG_OP = 'UPDATE' AND OLD.file_id <> NEW.file_id THEN
           UPDATE files SET revision = nextval('file_revisions') WHERE id = OLD.file_id;
         END IF;
         UPDATE files SET revision = nextval('file_revisions') WHERE id = NEW.file_id;
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
    statements = _POSTGRESQL if op.get_bind().dialect.name == "postgresql" else _SQLITE
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER versions_revision ON versions")
        op.execute("DROP TRIGGER files_revision ON files")
        op.execute("DROP FUNCTION mediavault_version_revision()")
        op.execute("DROP FUNCTION mediavault_file_revision()")
        op.execute("DROP SEQUENCE file_revisions")
    else:
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE revision_clock")
    for table in ("files", "trashed_files"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("revision")
