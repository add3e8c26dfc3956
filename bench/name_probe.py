"""People's names in sentence shapes `bench/redaction_eval.py` does not use: the question a
new user's probe asks of redaction ("my values, my sentences").

Two rounds of shapes, each 300 values a form from Faker (en, de, fr, it, es, nl):

- `first` was written after a day's changes and then read: the rules were fitted to what it
  showed, so its figures are tuned;
- `second` was written after the last change of 2026-12-08 and run once; docs/privacy.md
  quotes it. A later change to the name rules needs a third round, written and run once
  after that change, before its figure counts.

A value leaks as in `redaction_eval` (any identifying part survives; titles such as "Dott."
or "pani" that the probe plants are counted as parts, so a row's floor is not 0).

    python -m bench.name_probe [--round second] [--samples 300]
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable

from faker import Faker

from bench.redaction_eval import leaked, wilson
from llmwatch.detectors.redact import redact

ROUNDS: dict[str, tuple[int, dict[str, list[str]]]] = {
    "first": (424242, {
        "lower": ["can you add {v} to the mailing list", "{v}'s laptop won't boot",
                  "reminder: {v} starts monday", "thanks to {v} for the fix",
                  "is {v} on call tonight?"],
        "opening": ["{v} can't access the dashboard.", "{v} thinks the invoice is wrong.",
                    "{v} will send the logs tomorrow.", "{v} and I tried twice."],
        "caps": ["URGENT: {v} NEEDS A NEW PASSWORD", "CALLBACK FOR {v} BEFORE NOON",
                 "{v} REPORTED THE OUTAGE"],
        "european": ["Termin mit {v} am Freitag.", "Rendez-vous avec {v} jeudi.",
                     "{v} ha chiamato due volte.", "Llama a {v} mañana.",
                     "Afspraak met {v} om tien uur."],
    }),
    "second": (8675309, {
        "lower": ["please give {v} admin rights", "{v} left the company last month",
                  "the refund goes to {v}", "we are waiting on {v} to approve",
                  "has anyone heard from {v}?"],
        "opening": ["{v} is out sick today.", "{v} has the keys.",
                    "{v} told me the server is down.", "{v} never got the e-mail."],
        "caps": ["ACCOUNT OWNER: {v}", "PLEASE ESCALATE TO {v} NOW", "TICKET RAISED BY {v}"],
        "european": ["Die Lieferung ist für {v}.", "Le colis de {v} est arrivé.",
                     "Il contratto di {v} scade.", "El pedido de {v} llegó tarde.",
                     "Het pakket van {v} is zoek."],
    }),
}
FORMS = {"lower": "a full name in lower case", "opening": "a first name opening a sentence",
         "caps": "a full name in capitals", "european": "a European full name"}


def makers(seed: int, shapes: dict[str, list[str]]) -> dict[str, Callable[[], tuple[str, str]]]:
    rng = random.Random(seed)
    fake = {loc: Faker(loc) for loc in ("en_US", "en_GB", "de_DE", "fr_FR", "it_IT", "es_ES",
                                        "nl_NL")}
    for f in fake.values():
        f.seed_instance(seed)
    values: dict[str, Callable[[], str]] = {
        "lower": lambda: fake[rng.choice(["en_US", "en_GB"])].name().lower(),
        "opening": lambda: fake["en_US"].first_name(),
        "caps": lambda: fake["en_US"].name().upper(),
        "european": lambda: fake[rng.choice(["de_DE", "fr_FR", "it_IT", "es_ES",
                                             "nl_NL"])].name(),
    }

    def make(form: str) -> Callable[[], tuple[str, str]]:
        def one() -> tuple[str, str]:
            value = values[form]()
            return rng.choice(shapes[form]).format(v=value), value
        return one
    return {form: make(form) for form in shapes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--round", choices=sorted(ROUNDS), default="second")
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    seed, shapes = ROUNDS[args.round]
    print(f"names in shapes the redaction bench does not use (round {args.round}, seed {seed})")
    for form, make in makers(seed, shapes).items():
        leaks = []
        for _ in range(args.samples):
            sentence, value = make()
            shown = redact(sentence)
            if leaked(sentence, value, shown):
                leaks.append((sentence, shown))
        lo, hi = wilson(len(leaks), args.samples)
        print(f"  {FORMS[form]:34s} {len(leaks):3d}/{args.samples}  "
              f"{100 * len(leaks) / args.samples:4.1f} %  [{100 * lo:.1f}–{100 * hi:.1f}]")
        for sentence, shown in leaks[:2]:
            print(f"      {sentence!r} → {shown!r}")


if __name__ == "__main__":
    main()
