"""Adapters: MongoDB repositories, the event outbox mapping, keys and tokens, SMS gateways."""
