"""Presentation: the results as people read them.

``present`` writes tables and numbers; ``findings`` writes sentences from them; ``plots`` draws the
figures; ``notebook`` executes the notebook and renders its report, ``readme`` copies its findings
into the README and ``side_by_side`` runs the command line and the notebook together.

May import: foundation, reading, rules, engines, analysis.
"""
