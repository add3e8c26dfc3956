"""The faust worker and the plain functions its agents call."""
