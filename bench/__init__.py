"""Benchmarks: Spyglass side by side with the real peer, same machine, same data, same run."""
