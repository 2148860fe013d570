"""Chat service: chats, messages, live delivery, files and moderation, fed by school and identity events."""
