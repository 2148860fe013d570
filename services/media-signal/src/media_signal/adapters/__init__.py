"""adapters layer of media-signal."""
