"""Generated protobuf code for the pipeline's own messages (sources in the repository's `proto/`).

Do not edit the `*_pb2.py` files: change the `.proto` and run `scripts/genproto`.
"""
