"""Property: for any sequence of uploads, restores and deletes, the version history matches a
simple model and every invariant holds."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mediavault.config import Settings
from mediavault.domain.versioning import UploadOptions
from mediavault.errors import CannotDeleteCurrentVersion, VersionLimitReached
from mediavault.media.probe import probe
from mediavault.services import files, uploads, versions
from mediavault.services.stores import Stores
from mediavault.storage.database import migrate
from mediavault.wiring import build_stores
from tests.backends import backend_env
from tests.support import check_invariants

LIMIT = 6
operation = st.one_of(
    st.tuples(st.just("upload"), st.integers(0, 3)),  # which of four contents
    st.tuples(st.just("restore"), st.integers(0, 20)),  # index into the model's versions
    st.tuples(st.just("delete"), st.integers(0, 20)),
    st.tuples(st.just("delete_file"), st.just(0)),
)


@dataclass
class Model:
    numbers: list[int] = field(default_factory=list)  # live version numbers
    current: int | None = None
    counter: int = 0

    def expected(self) -> list[tuple[int, bool]]:
        others = sorted((n for n in self.numbers if n != self.current), reverse=True)
        return [(self.current, True), *((n, False) for n in others)] if self.current else []


def put(stores: Stores, content: bytes):
    writer = stores.blobs.stage(1 << 20)
    writer.write(content)
    staged = writer.finish()
    info = probe(lambda: stores.blobs.open_staged(staged), staged.head, staged.digest, staged.size)
    target = uploads.UploadTarget(file_name="p.txt", folder="/prop")
    return uploads.upload(stores, staged, info, target, UploadOptions(use_unique_file_name=False))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, max_size=25))
def test_any_sequence_of_operations_matches_the_model(ops: list[tuple[str, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = Settings.from_env(backend_env(), data=Path(tmp), max_versions_per_file=LIMIT)
        stores = build_stores(config)
        migrate(stores.meta.engine)
        try:
            run(stores, ops)
            check_invariants(config)
        finally:
            stores.close()


def run(stores: Stores, ops: list[tuple[str, int]]) -> None:
    model, file_id, ids = Model(), None, {}
    for kind, arg in ops:
        if kind == "upload":
            if len(model.numbers) >= LIMIT:
                try:
                    put(stores, f"content {arg}".encode())
                except VersionLimitReached:
                    continue
                raise AssertionError("the version limit did not hold")
            result = put(stores, f"content {arg}".encode())
            if file_id is None:
                model, file_id = Model(), result.file.id
            model.counter += 1
            assert result.version.number == model.counter
            model.numbers.append(model.counter)
            model.current = model.counter
            ids[model.counter] = result.version.id
        elif file_id is None or not model.numbers:
            continue
        elif kind == "restore":
            number = model.numbers[arg % len(model.numbers)]
            restored = versions.restore_version(stores, file_id, ids[number])
            assert restored.version.number == number
            model.current = number
        elif kind == "delete":
            number = model.numbers[arg % len(model.numbers)]
            if number == model.current:
                try:
                    versions.delete_version(stores, file_id, ids[number])
                except CannotDeleteCurrentVersion:
                    continue
                raise AssertionError("the current version was deleted")
            versions.delete_version(stores, file_id, ids[number])
            model.numbers.remove(number)
        else:
            files.delete_file(stores, file_id)
            model, file_id, ids = Model(), None, {}
        if file_id is not None:
            actual = [
                (v.version.number, v.version.is_current)
                for v in versions.list_versions(stores, file_id)
            ]
            assert actual == model.expected()
