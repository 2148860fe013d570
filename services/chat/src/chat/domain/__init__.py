"""chat.domain layer."""
