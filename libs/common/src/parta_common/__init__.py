"""Parta's shared service kit: settings, logging, gRPC runner, errors, auth, metrics, events, Mongo."""
