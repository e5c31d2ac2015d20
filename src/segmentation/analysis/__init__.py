"""Analysis: what the customer table says.

``segments`` and ``rfm`` name segments (spend clusters; rule-based RFM scores and the packaged
``segment_map.toml``); ``cluster``, ``populations`` and ``diagnostics`` cluster the customers and
check the clusters; ``profiles`` describes each segment; ``validation`` and ``forecast`` check the
segments against what customers did next and predict it; ``model`` saves a fitted segmentation and
scores new files with it; ``pipeline`` runs the whole analysis on a file.

May import: foundation, reading, rules, engines.
"""
