"""SQL for custom metadata fields."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from mediavault.domain.models import CustomMetadataField, JsonObject
from mediavault.storage.tables import custom_metadata_fields as fields_table


class FieldQueries:
    _db: sa.Connection

    def list_fields(self, include_deleted: bool = False) -> list[CustomMetadataField]:
        query = sa.select(fields_table).order_by(fields_table.c.created_at, fields_table.c.id)
        if not include_deleted:
            query = query.where(sa.not_(fields_table.c.is_deleted))
        return [_field(row) for row in self._db.execute(query)]

    def get_field(self, field_id: str) -> CustomMetadataField | None:
        row = self._db.execute(sa.select(fields_table).where(fields_table.c.id == field_id)).first()
        return _field(row) if row else None

    def field_name_taken(self, name: str) -> bool:
        query = sa.select(fields_table.c.id).where(fields_table.c.name == name)
        return self._db.execute(query).first() is not None

    def field_label_taken(self, label: str, except_id: str | None = None) -> bool:
        query = sa.select(fields_table.c.id).where(
            fields_table.c.label == label, sa.not_(fields_table.c.is_deleted)
        )
        if except_id is not None:
            query = query.where(fields_table.c.id != except_id)
        return self._db.execute(query).first() is not None

    def insert_field(self, field: CustomMetadataField, now: int) -> None:
        self._db.execute(
            sa.insert(fields_table).values(
                id=field.id,
                name=field.name,
                label=field.label,
                schema=field.schema,
                is_deleted=False,
                created_at=now,
                updated_at=now,
            )
        )

    def update_field(self, field_id: str, label: str, schema: JsonObject, now: int) -> None:
        self._db.execute(
            sa.update(fields_table)
            .where(fields_table.c.id == field_id)
            .values(label=label, schema=schema, updated_at=now)
        )

    def delete_field(self, field_id: str, now: int) -> None:
        self._db.execute(
            sa.update(fields_table)
            .where(fields_table.c.id == field_id)
            .values(is_deleted=True, updated_at=now)
        )


def _field(row: sa.Row[Any]) -> CustomMetadataField:
    return CustomMetadataField(row.id, row.name, row.label, row.schema, row.is_deleted)
