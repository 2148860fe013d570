"""chat.app layer."""
