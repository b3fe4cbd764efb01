"""Version 1 of the pipeline's messages: `sampling_pb2.SamplingDecision`."""
