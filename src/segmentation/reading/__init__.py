"""Reading: where invoice lines come from.

``load`` reads one file (CSV, Excel, Parquet) into canonical columns, and is the only code that reads
input files; ``partitions`` groups the files of a folder by layout for the engines that read in parts;
``download`` fetches the real data and ``synthetic`` makes the seeded sample.

May import: foundation.
"""
