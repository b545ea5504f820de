"""``python -m lego``: the ``lego`` command as a module (also ``torchrun ... -m lego run FILE``).

Everything lives in :mod:`lego_core`; this package only lets ``-m`` find the command.
"""
