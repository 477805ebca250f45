"""Clients of a media library over ImageKit's API: mediavault's own or ImageKit itself."""
