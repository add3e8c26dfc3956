"""Recall of the fail-closed redactor on fresh personal data, and what it costs in plain text.

Values come from Faker (fresh on every seed, four locales), planted in realistic sentences;
a value *leaks* when any of its identifying parts (a word of 4+ letters or a run of 3+ digits
not already in the sentence template) survives redaction. Precision is judged on ordinary
prompts with no personal data: the share of their words that survive.

    python bench/redaction_eval.py [--samples 400] [--seed 7] [--fast]
"""

from __future__ import annotations

import argparse
import random
import re
import string
import time
from collections import Counter
from collections.abc import Callable, Iterator

from faker import Faker

from llmwatch.detectors.redact import redact

_PART = re.compile(r"[^\W\d_]{4,}|\d{3,}")


def _secret(rng: random.Random, prefix: str, n: int, alphabet: str) -> str:
    return prefix + "".join(rng.choice(alphabet) for _ in range(n))


def kinds(fake: Faker, rng: random.Random) -> dict[str, Callable[[], tuple[str, str]]]:
    """kind → a function giving (sentence, planted value)."""
    alnum = string.ascii_letters + string.digits
    b64 = alnum + "/+"

    def card() -> str:
        digits = fake.credit_card_number(card_type=rng.choice(["visa16", "mastercard"]))
        sep = rng.choice([" ", "-", ".", "/", ""])
        return sep.join(digits[i:i + 4] for i in range(0, len(digits), 4))

    def phone7() -> str:
        return f"{rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"

    return {
        "name": lambda: (f"Hi, this is {(v := fake.name())}, I need help with my order.", v),
        "name_lower": lambda: (f"my name is {(v := fake.name().lower())} and I forgot my login",
                               v),
        "address": lambda: (f"Please ship it to {(v := fake.address().replace(chr(10), ', '))}"
                            " by Friday.", v),
        "card": lambda: (f"My card is {(v := card())}, why was it declined?", v),
        "iban": lambda: (f"Transfer the refund to {(v := fake.iban().lower())} please", v),
        "sk_live": lambda: (f"our stripe key {(v := _secret(rng, 'sk_live_', 24, alnum))} leaks?",
                            v),
        "github_pat": lambda: (f"use token {(v := _secret(rng, 'github_pat_', 60, alnum))} in CI",
                               v),
        "glpat": lambda: (f"gitlab says {(v := _secret(rng, 'glpat-', 20, alnum))} is invalid", v),
        "aws_secret": lambda: (f"the AWS secret is {(v := _secret(rng, '', 40, b64))} now", v),
        "bearer": lambda: (f"curl -H 'Authorization: Bearer {(v := _secret(rng, '', 32, alnum))}'"
                           " fails", v),
        "password": lambda: (f"my password is {(v := fake.password(length=rng.randint(8, 14)))}"
                             " and it does not work", v),
        "phone7": lambda: (f"call me on {(v := phone7())} after five", v),
        "phone": lambda: (f"you can reach me at {(v := fake.phone_number())} any time", v),
        "email": lambda: (f"write to {(v := fake.email())} with the invoice", v),
        "ssn": lambda: (f"my social is {(v := fake.ssn())}, is that safe?", v),
    }


def leaked(sentence: str, value: str, redacted: str) -> bool:
    template = sentence.replace(value, " ")
    parts = [p for p in _PART.findall(value) if p.lower() not in template.lower()]
    if not parts:  # nothing identifying left to find: judge on the whole value
        return value in redacted
    return any(re.search(rf"(?<!\w){re.escape(p)}(?!\w)", redacted) for p in parts)


_PLAIN = [
    "How do I sort a list of dictionaries by a key in Python?",
    "Summarise this article about interest rates and inflation in two sentences.",
    "Write a polite reply declining the meeting invitation for next week.",
    "What is the difference between a process and a thread?",
    "Translate 'where is the train station' into Spanish.",
    "Explain recursion to a ten year old with an example.",
    "Give me three ideas for a birthday party on a small budget.",
    "Why does my sourdough bread come out flat after baking?",
    "Draft a short product description for a stainless steel water bottle.",
    "What are the main causes of the French Revolution?",
]


def samples(n: int, seed: int) -> Iterator[tuple[str, str, str]]:
    rng = random.Random(seed)
    fakes = [Faker(loc) for loc in ("en_US", "en_GB", "de_DE", "fr_FR")]
    for f in fakes:
        f.seed_instance(seed)
    for i in range(n):
        fake = fakes[i % len(fakes)]
        for kind, make in kinds(fake, rng).items():
            sentence, value = make()
            yield kind, sentence, value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=400, help="sentences per kind")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--fast", action="store_true",
                    help="only the checked kinds and the fail-closed rules (no Presidio or "
                    "detect-secrets): what `privacy.store_text = redacted` and topic labels use")
    args = ap.parse_args()
    total, leaks, examples = Counter[str](), Counter[str](), {}
    started = time.perf_counter()
    for kind, sentence, value in samples(args.samples, args.seed):
        out = redact(sentence, thorough=not args.fast)
        total[kind] += 1
        if leaked(sentence, value, out):
            leaks[kind] += 1
            examples.setdefault(kind, (sentence, out))
    seconds = time.perf_counter() - started
    print(f"{'kind':<12} {'recall':>7}  leaked/total")
    for kind in total:
        print(f"{kind:<12} {1 - leaks[kind] / total[kind]:>7.3f}  {leaks[kind]}/{total[kind]}")
    n = sum(total.values())
    print(f"{'all':<12} {1 - sum(leaks.values()) / n:>7.3f}  {sum(leaks.values())}/{n}"
          f"   ({seconds / n * 1000:.2f} ms a sentence)")
    kept = [len(redact(t).split()) / len(t.split()) for t in _PLAIN
            if "[" not in redact(t)]
    print(f"plain prompts left untouched: {len(kept)}/{len(_PLAIN)}")
    for kind, (sentence, out) in examples.items():
        print(f"  leak {kind}: {sentence!r} -> {out!r}")


if __name__ == "__main__":
    main()
