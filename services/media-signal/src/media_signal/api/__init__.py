"""api layer of media-signal."""
