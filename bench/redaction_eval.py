"""Both sides of redaction, side by side: what leaks, per form, and what ordinary text it alters.

Leaks: values from Faker (fresh on every seed; the rules share none of its lists) and from
random digits, planted in sentences in every form a new user tried — split by newlines,
underscores, ", " or zero-width characters, spelled as words, joined by dashes of every kind,
names in six scripts and in lower or upper case, `KEY=value` secrets, passphrases, spoken
and encoded e-mails, national ids, passports, record numbers, dates of birth — and the forms
of the first rounds. A value *leaks* when any identifying part of it (a word of 4+ letters,
a run of 3+ digits, a name of 2+ characters in a script without case) survives.

Alterations: real prompts of seven kinds (benign_traffic: chat, Q&A, news, technical
questions, code, other languages, documents), split in two by a hash of the text: `dev`
(read while the rules were written) and `held-out` (read only for the final number), plus
hand-written technical questions full of product names (dev), and, in `held-out`, chat in
the 15 languages of chatterbot-corpus the project never used (Hebrew, Urdu, Persian, Hindi,
Bengali, Tamil, Thai, Korean, …). A prompt is *altered* when
redaction changes it; the words it masks are counted, and the share altered by anything but
a person's name is printed beside (news and documents name real people: masking them is
the policy, not a false alarm).

    python -m bench.redaction_eval [--samples 20] [--seed 7] [--prompts 200] [--split held-out]
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import re
import string
import time
from collections import Counter
from collections.abc import Callable, Iterator

from faker import Faker

from llmwatch.detectors.redact import PLACEHOLDER, redact

_PART = re.compile(r"[^\W\d_]{4,}|\d{3,}")
_UNCASED = re.compile(r"[\u0590-\u08ff\u0900-\u0dff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_WORDS = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five",
          "6": "six", "7": "seven", "8": "eight", "9": "nine"}

Form = Callable[[], tuple[str, str]]


def forms(fakes: dict[str, Faker], rng: random.Random) -> dict[str, Form]:
    """form → a function giving (sentence, planted value)."""
    en = fakes["en_US"]
    alnum = string.ascii_letters + string.digits

    def card() -> str:
        return en.credit_card_number(card_type=rng.choice(["visa16", "mastercard"]))

    def groups(digits: str, size: int = 4) -> list[str]:
        if size == 3:  # a ten-digit phone: 3-3-4
            return [digits[:3], digits[3:6], digits[6:]]
        return [digits[i:i + size] for i in range(0, len(digits), size)]

    def phone10() -> str:
        return f"{rng.randint(200, 989)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"

    def phone7(sep: str) -> str:
        return f"{rng.randint(200, 999)}{sep}{rng.randint(0, 9999):04d}"

    def spelled(digits: str) -> str:
        return " ".join(_WORDS[d] for d in digits)

    def secret(n: int) -> str:
        return "".join(rng.choice(alnum) for _ in range(n))

    def name_in(locale: str) -> Callable[[], tuple[str, str]]:
        def make() -> tuple[str, str]:
            v = fakes[locale].name()
            return rng.choice([f"Please forward this to {v} before the meeting.",
                               f"The report was written by {v} last week.",
                               f"Can you draft an email to {v} about the delay?"]), v
        return make

    def dob_words() -> str:
        d = en.date_of_birth(minimum_age=18, maximum_age=90)
        ordinal = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
                   "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth",
                   "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth",
                   "twentieth"][min(d.day, 20) - 1]
        return f"the {ordinal} of {d.strftime('%B')} {d.year}"

    return {
        # the first rounds' forms
        "name": lambda: (f"Hi, this is {(v := en.name())}, I need help with my order.", v),
        "name (de, fr)": lambda: (f"Bitte schick das an {(v := fakes[rng.choice(['de_DE', 'fr_FR'])].name())}.", v),
        "address": lambda: (f"Please ship it to {(v := en.address().replace(chr(10), ', '))} by Friday.", v),
        "card": lambda: (f"My card is {(v := ' '.join(groups(card())))}, why was it declined?", v),
        "iban": lambda: (f"Transfer the refund to {(v := en.iban().lower())} please", v),
        "sk_live": lambda: (f"our stripe key {(v := 'sk_live_' + secret(24))} leaks?", v),
        "github_pat": lambda: (f"use token {(v := 'github_pat_' + secret(60))} in CI", v),
        "bearer": lambda: (f"curl -H 'Authorization: Bearer {(v := secret(32))}' fails", v),
        "password": lambda: (f"my password is {(v := en.password(length=rng.randint(8, 14)))} and it does not work", v),
        "phone": lambda: (f"you can reach me at {(v := en.phone_number())} any time", v),
        "email": lambda: (f"write to {(v := en.email())} with the invoice", v),
        "ssn": lambda: (f"my social is {(v := en.ssn())}, is that safe?", v),
        # split digits
        "card split by newlines": lambda: (f"card\n{(v := chr(10).join(groups(card())))}\nplease check", v),
        "card split by underscores": lambda: (f"my card {(v := '_'.join(groups(card())))} failed", v),
        "card split by ', '": lambda: (f"the numbers are {(v := ', '.join(groups(card())))} thanks", v),
        "card split by zero-width spaces": lambda: (f"card {(v := chr(0x200b).join(groups(card())))} declined", v),
        "card split by word joiners": lambda: (f"card {(v := chr(0x2060).join(groups(card())))} declined", v),
        "phone split by newlines": lambda: (f"call me\n{(v := chr(10).join(groups(phone10(), 3)))}\ntonight", v),
        "phone split by ', '": lambda: (f"my number: {(v := ', '.join(groups(phone10(), 3)))}", v),
        "card in words": lambda: (f"my card is {(v := spelled(card()))} and it fails", v),
        "phone in words": lambda: (f"call me on {(v := spelled(phone10()))} tonight", v),
        "phone7 en dash": lambda: (f"call me on {(v := phone7(chr(0x2013)))} after five", v),
        "phone7 non-breaking hyphen": lambda: (f"call me on {(v := phone7(chr(0x2011)))} after five", v),
        "phone7 minus sign": lambda: (f"call me on {(v := phone7(chr(0x2212)))} after five", v),
        "phone7 'dot'": lambda: (f"call me on {(v := phone7(' dot '))} after five", v),
        # names
        "name zh": name_in("zh_CN"), "name ja": name_in("ja_JP"), "name ko": name_in("ko_KR"),
        "name ar": name_in("ar_AA"), "name he": name_in("he_IL"), "name hi": name_in("hi_IN"),
        "name lower case": lambda: (f"my friend {(v := en.name().lower())} said it broke", v),
        "name ALL CAPS": lambda: (f"PLEASE CALL {(v := en.name().upper())} ABOUT THE BILL", v),
        "first name opening a sentence": lambda: (f"{(v := en.first_name())} asked me to reset the router.", v),
        # secrets
        "DB_PASSWORD=": lambda: (f"DB_PASSWORD={(v := en.password(length=12))} in the .env file", v),
        "PGPASSWORD=": lambda: (f"PGPASSWORD={(v := en.password(length=12))} psql -h db", v),
        "passphrase": lambda: (f"my passphrase is {(v := ' '.join(en.words(4)))} and it fails", v),
        # e-mails
        "email 'at … dot'": lambda: (f"mail me: {(v := en.user_name() + ' at ' + en.domain_word() + ' dot com')}", v),
        "email full-width ＠": lambda: (f"write to {(v := en.user_name() + '＠' + en.domain_name())} today", v),
        "email URL-encoded": lambda: (f"the link had {(v := en.user_name() + '%40' + en.domain_name())} in it", v),
        "email non-ASCII domain": lambda: (f"write to {(v := en.user_name() + '@' + rng.choice(['bücher', 'café', 'пример', '例子', 'münchen']) + '.' + rng.choice(['de', 'com', 'рф', 'org']))}", v),
        # ids and dates
        "Indian PAN": lambda: (f"my PAN is {(v := ''.join(rng.choice(string.ascii_uppercase) for _ in range(3)) + 'P' + rng.choice(string.ascii_uppercase) + f'{rng.randint(0, 9999):04d}' + rng.choice(string.ascii_uppercase))}", v),
        "short medical record number": lambda: (f"patient MRN {(v := str(rng.randint(100, 9999)))} needs a refill", v),
        "passport alphanumeric": lambda: (f"passport number {(v := rng.choice(string.ascii_uppercase) + ''.join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(8)))}", v),
        "date of birth in words": lambda: (f"I was born on {(v := dob_words())} in a small town", v),
    }


_TITLES = frozenset("prof professor dipl ing univ herr frau mme mlle madame monsieur docteur "
                    "doktor mag msc bsc mba phil eng ba ma phd med rer nat sc".split())


def parts(sentence: str, value: str) -> list[str]:
    """What of `value` identifies someone, less what the sentence says anyway and titles
    ("Prof.", "Dipl.-Ing.")."""
    template = sentence.replace(value, " ").lower()
    if _UNCASED.search(value):
        found = [w for w in value.split() if len(w) >= 2]
    else:
        found = _PART.findall(value)
    return [p for p in found if p.lower() not in template and p.lower() not in _TITLES]


def leaked(sentence: str, value: str, redacted: str) -> bool:
    found = parts(sentence, value)
    if not found:
        return value in redacted
    return any(re.search(rf"(?<!\w){re.escape(p)}(?!\w)", redacted) for p in found)


def planted(n: int, seed: int) -> Iterator[tuple[str, str, str]]:
    rng = random.Random(seed)
    fakes = {loc: Faker(loc) for loc in ("en_US", "de_DE", "fr_FR", "zh_CN", "ja_JP", "ko_KR",
                                         "ar_AA", "he_IL", "hi_IN")}
    for f in fakes.values():
        f.seed_instance(seed)
    made = forms(fakes, rng)
    for _ in range(n):
        for form, make in made.items():
            sentence, value = make()
            yield form, sentence, value


_PRODUCTS = """Redis FastAPI MongoDB ESLint Next.js Vercel Flask Microsoft TypeError None True False
Britain PostgreSQL Django React Kubernetes Terraform Grafana Prometheus Nginx Apache Kafka Spark
Airflow Snowflake BigQuery Tableau Jira Confluence Figma Notion Stripe Twilio Shopify Salesforce
HubSpot Zendesk Datadog Sentry Jenkins GitLab Bitbucket Docker Podman Ansible Pulumi Heroku Netlify
Supabase Firebase Prisma Sequelize Mongoose Express Svelte Angular Vue Nuxt Remix Tailwind Bootstrap
Webpack Vite Babel Pytest NumPy Pandas PyTorch TensorFlow Keras LangChain LlamaIndex OpenAI Anthropic
Mistral Ollama Hugging Face Elasticsearch Kibana Logstash Cassandra DynamoDB Lambda CloudFront Azure
Oracle Excel Outlook Teams Zoom Slack Discord Telegram WhatsApp iPhone Android Chrome Firefox Safari
Ubuntu Debian Fedora Windows Linux macOS Rust Golang Swift Kotlin Scala Haskell Elixir Erlang Julia
Ruby Rails Laravel Symfony Spring Hibernate Maven Gradle Bazel CMake Clang LLVM Valgrind""".split()
_TECH_ASKS = ["How do I connect {a} to {b} in production?", "Why does {a} throw a timeout when {b} restarts?",
              "Compare {a} and {b} for a small team.", "Is {a} still maintained, or should we move to {b}?",
              "Write a config that runs {a} behind {b}.", "What's the {a} equivalent of {b}'s retry option?"]


FRESH_LANGUAGES = ("bengali", "hebrew", "hindi", "hinglish", "korean", "marathi", "oriya",
                   "persian", "tamil", "telugu", "thai", "traditionalchinese", "ukrainian",
                   "urdu", "yoruba")


def ordinary(n: int, seed: int, split: str) -> dict[str, list[str]]:
    """Real prompts of each kind (benign_traffic), in the split asked for."""
    from corpora import benign_traffic

    rng = random.Random(seed)
    out: dict[str, list[str]] = {}
    for kind, pairs in benign_traffic.kinds(rng, 4 * n).items():
        prompts = [p for p, _ in pairs if _split(p) == split]
        out[kind] = prompts[:n]
    if split == "held-out":  # a source the project never used, read only for the final number
        fresh = [p for lang in FRESH_LANGUAGES for p, _ in benign_traffic._chatterbot(lang)]
        out["15 languages never used"] = random.Random(seed).sample(fresh, min(n, len(fresh)))
    if split == "dev":
        out["product names (written)"] = [
            rng.choice(_TECH_ASKS).format(a=a, b=b)
            for a, b in (rng.sample(_PRODUCTS, 2) for _ in range(n))]
    return out


def _split(text: str) -> str:
    return "dev" if hashlib.sha256(text.encode()).digest()[0] % 2 == 0 else "held-out"


def masked_words(text: str, redacted: str) -> list[str]:
    """The words of `text` that redaction took away."""
    kept = Counter(re.findall(r"\w+", PLACEHOLDER.sub(" ", redacted)))
    lost = []
    for w in re.findall(r"\w+", text):
        if kept[w] > 0:
            kept[w] -= 1
        else:
            lost.append(w)
    return lost


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=20, help="values per form")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--prompts", type=int, default=200, help="ordinary prompts per kind")
    ap.add_argument("--split", choices=["dev", "held-out"], default="held-out")
    ap.add_argument("--fast", action="store_true",
                    help="without Presidio and detect-secrets (privacy.store_text = redacted)")
    args = ap.parse_args()
    thorough = not args.fast
    redact("warm up: Jane Doe, +44 20 7946 0958", thorough=thorough)

    total, leaks, examples = Counter[str](), Counter[str](), {}
    started, texts = time.perf_counter(), 0
    for form, sentence, value in planted(args.samples, args.seed):
        out = redact(sentence, thorough=thorough)
        texts += 1
        total[form] += 1
        if leaked(sentence, value, out):
            leaks[form] += 1
            examples.setdefault(form, (sentence, out))
    leak_seconds = time.perf_counter() - started
    print(f"LEAKS: {args.samples} fresh values per form (seed {args.seed}); "
          f"{'fast' if args.fast else 'all'} layers")
    print(f"{'form':34} {'leaked':>8} {'rate':>6}  95% interval")
    for form in total:
        lo, hi = wilson(leaks[form], total[form])
        print(f"{form:34} {leaks[form]:>3}/{total[form]:<4} {leaks[form] / total[form]:6.1%}"
              f"  {lo:.1%}–{hi:.1%}")
    all_leaks = sum(leaks.values())
    print(f"{'all forms':34} {all_leaks:>3}/{texts:<4} {all_leaks / texts:6.1%}")
    for form, (sentence, out) in examples.items():
        print(f"  e.g. {form}: {sentence!r}\n     → {out!r}")

    print(f"\nALTERATIONS: ordinary prompts, split '{args.split}', up to {args.prompts} a kind")
    print(f"{'kind':26} {'altered':>9} {'rate':>6}  95% interval  {'not by a name':>13}"
          "  masked most")
    started, n_prompts = time.perf_counter(), 0
    altered_all = seen_all = 0
    for kind, prompts in ordinary(args.prompts, args.seed, args.split).items():
        altered, other, lost = 0, 0, Counter[str]()
        for p in prompts:
            out = redact(p, thorough=thorough)
            n_prompts += 1
            if out != p:
                altered += 1
                other += bool(set(PLACEHOLDER.findall(out)) - {"[NAME]"} - set(
                    PLACEHOLDER.findall(p)))
                lost.update(masked_words(p, out))
        altered_all += altered
        seen_all += len(prompts)
        lo, hi = wilson(altered, len(prompts))
        top = ", ".join(f"{w} ×{c}" for w, c in lost.most_common(8))
        print(f"{kind:26} {altered:>3}/{len(prompts):<5} {altered / max(1, len(prompts)):6.1%}"
              f"  {lo:.1%}–{hi:.1%}  {other / max(1, len(prompts)):13.1%}  {top}")
    print(f"{'all kinds':26} {altered_all:>3}/{seen_all:<5} {altered_all / max(1, seen_all):6.1%}")
    print(f"\ncost: {1000 * leak_seconds / texts:.1f} ms a planted sentence, "
          f"{1000 * (time.perf_counter() - started) / max(1, n_prompts):.1f} ms an ordinary prompt")


if __name__ == "__main__":
    main()
