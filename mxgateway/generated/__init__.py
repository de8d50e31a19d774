"""Generated protobuf and gRPC bindings. Never edit by hand: run scripts/generate_proto.py."""
