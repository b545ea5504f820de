"""Studies: many runs of one experiment, and the tables and figures that compare them.

- :mod:`lego_core.study.space`: the search space (``--grid``, ``--range``, ``--seeds``, ``[sweep]``) and its cells;
- :mod:`lego_core.study.sweep`: ``lego sweep``, running the cells in worker processes, resumable;
- :mod:`lego_core.study.runs`: reading run directories back;
- :mod:`lego_core.study.report`: ``lego report``, grouped mean ± std with bootstrap intervals;
- :mod:`lego_core.study.figures`: the PNG figures (optional matplotlib).
"""
