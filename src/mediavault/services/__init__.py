"""Use cases: the versioning rules applied inside transactions. No web framework here."""
