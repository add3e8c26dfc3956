"""What a call cost, from its model and token counts, when the app does not say.

`DEFAULT` holds list prices in USD per million tokens (input, output) of common hosted
models, as their providers published them in 2025; a snapshot id ("gpt-4o-mini-2024-07-18")
takes its family's price (the longest known prefix). Prices change: pass your own table
(`Prices({"my-model": (0.2, 0.8)})`) or extend the default (`DEFAULT.with_prices(...)`).
A model not in the table gets no cost (None), never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Prices:
    """USD per million tokens, (input, output), by model id or id prefix."""

    per_mtok: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def cost_usd(self, model: str, input_tokens: int | None,
                 output_tokens: int | None) -> float | None:
        """The call's cost, or None when the model is unknown or no tokens were counted.

        >>> DEFAULT.cost_usd("gpt-4o-mini-2024-07-18", 1_000, 500)
        0.00045
        >>> DEFAULT.cost_usd("my-finetune", 1_000, 500) is None
        True
        """
        price = self.price_of(model)
        if price is None or (input_tokens is None and output_tokens is None):
            return None
        usd = ((input_tokens or 0) * price[0] + (output_tokens or 0) * price[1]) / 1e6
        return round(usd, 8)

    def price_of(self, model: str) -> tuple[float, float] | None:
        name = model.lower().removeprefix("openai/").removeprefix("anthropic/")
        known = [k for k in self.per_mtok if name == k or name.startswith(k + "-")]
        return self.per_mtok[max(known, key=len)] if known else None

    def with_prices(self, extra: Mapping[str, tuple[float, float]]) -> Prices:
        return Prices({**self.per_mtok, **{k.lower(): v for k, v in extra.items()}})


DEFAULT = Prices({
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o1": (15.00, 60.00),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-3-5-sonnet": (3.00, 15.00),
    "claude-3-7-sonnet": (3.00, 15.00),
    "claude-3-opus": (15.00, 75.00),
})
