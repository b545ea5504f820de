"""Fails on import, as a plugin with a missing dependency would."""

raise ImportError("lego-broken-example needs the package 'not_installed_anywhere' (this plugin is broken on purpose)")
