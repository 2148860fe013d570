"""gRPC servicers (thin: protobuf → use case → protobuf), mappers and event consumers."""
