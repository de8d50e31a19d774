"""Recordings and how they look: gap markers, collecting changes, wide tables, plots, live trends.

Part of the model layer: it knows changes by their fields (``tag``, ``value``,
``quality``, ``source_timestamp``), never by the session that produced them.
pandas, matplotlib and IPython are imported only when a table, a plot or a trend
is asked for.
"""
