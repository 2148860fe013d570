"""chat.adapters layer."""
