"""Tools for testing code that uses the engine: stream generators and hypothesis strategies."""
