"""Fixes to Faust and mode, each closing a measured defect (its module says which)."""
