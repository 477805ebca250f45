"""mediavault: a self-hosted media library with file versioning, speaking ImageKit's REST API."""

__version__ = "0.1.0"
