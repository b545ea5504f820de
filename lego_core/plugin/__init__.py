"""Writing a lego plugin in ten lines.

1. Make a package with a module, say ``lego_mynews/plugin.py``.
2. In it, ``from lego_core.plugin import hookimpl``.
3. Implement any hook of :mod:`lego_core.plugin.spec`, e.g.::

       @hookimpl
       def lego_register_content_operators():
           from lego_mynews.bigram import BigramOperator
           return [BigramOperator]

4. Point an entry point of the group ``lego`` at the module in your pyproject::

       [project.entry-points.lego]
       mynews = "lego_mynews.plugin"

5. ``pip install`` it: ``lego list`` shows ``bigram`` and a TOML file can name it.
"""

from lego_core.plugin.markers import hookimpl

__all__ = ["hookimpl"]
