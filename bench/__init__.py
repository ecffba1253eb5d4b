"""``make bench``: throughput, latency and footprint, each next to its baseline from the same run.

Not part of ``make test``: these machines are shared and noisy, so figures are reported
as ratios to a baseline measured side by side, and nothing here asserts a time.
"""
