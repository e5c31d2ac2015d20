"""Benchmarks of the feature stage (``make bench``); kept out of the installed package. See docs/performance.md."""
