"""The README's trust table is what the benches measured: `bench/trust_table.py` renders it
from bench/results/*.json, and the README holds exactly that (never numbers typed by hand)."""

from __future__ import annotations

from bench import trust_table


def test_the_readme_table_is_the_benches_output() -> None:
    held = trust_table.block(trust_table.README.read_text())
    assert held is not None, "README.md lost its trust-table markers"
    assert held == trust_table.render(), (
        "README.md's trust table differs from bench/results: run `python -m bench.trust_table`")


def test_every_part_of_the_table_was_measured() -> None:
    rendered = trust_table.render()
    assert "not measured yet" not in rendered
    for heading in ("**Per check**", "**Per tier**", "**Per language**"):
        assert heading in rendered
