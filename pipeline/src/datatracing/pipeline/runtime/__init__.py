"""Process runtime: Faust app factory, the worker processes and the `datatracing up` supervisor."""
