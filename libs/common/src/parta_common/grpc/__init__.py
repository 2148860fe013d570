"""gRPC edge of the kit: error mapping, authentication, request context, metrics, server runner."""
