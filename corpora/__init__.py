"""Readers of the public text sources the project learns from and measures on.

Each source is read from a pinned PyPI package or wheel (nothing is fetched at run time) and
split by a hash of its text (`quality_data.split_of`): `training/` fits the shipped heads on
the training splits, `bench/` measures on the held-out ones. Neither is installed with
llmwatch: run them from the checkout (`python -m training.…`, `python -m bench.…`).
"""
