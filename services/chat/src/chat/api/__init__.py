"""chat.api layer."""
