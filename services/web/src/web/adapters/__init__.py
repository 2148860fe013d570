"""The gateway's side of the services: the exposed methods, channels, gRPC errors."""
