"""app layer of media-signal."""
