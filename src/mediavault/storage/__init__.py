"""Adapters: SQL for metadata, files on disk for blobs. Nothing above this imports a driver."""
