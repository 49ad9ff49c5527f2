"""Revision scripts, one schema change each; a package so that they ship with pullgate."""
