"""domain layer of media-signal."""
