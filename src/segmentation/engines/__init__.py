"""Engines: where the rules run, and the customer table they give.

``runners`` holds the engines (DuckDB on this machine, Dask, Spark), the rulebook applied to one
relation of lines and the customer table made from the results; ``dask_engine`` and ``spark_engine``
only read and partition the lines for theirs.

May import: foundation, reading, rules.
"""
