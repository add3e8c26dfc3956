"""Redaction on the forms a new user tried (issue: what leaves the service is safe, and still
worth reading): each form masked, each piece of ordinary text left as written."""

from __future__ import annotations

import pytest

from llmwatch.detectors.digit_groups import find_digit_chains
from llmwatch.detectors.normal_form import normalise
from llmwatch.detectors.person_names import find_names
from llmwatch.detectors.redact import Privacy, redact, shown

CARD = "4532015112830366"  # Luhn-valid


def groups(digits: str) -> list[str]:
    return [digits[i:i + 4] for i in range(0, len(digits), 4)]


def test_the_normal_form_maps_back_to_the_text_as_written() -> None:
    text = "ｃａｒｄ 4532\u200b0151 — call 555\u2011\u20600199 or bob＠example.org %40"
    n = normalise(text)
    assert n.text == "card 45320151 - call 555-0199 or bob@example.org @"
    start = n.text.index("555")
    a, b = n.original(start, start + len("555-0199"))
    assert text[a:b] == "555\u2011\u20600199"
    assert normalise("").text == ""


@pytest.mark.parametrize("sep", ["\n", "_", ", ", "\u200b", "\u2060", " \n ", "-"])
def test_a_card_is_masked_however_it_is_split(sep: str) -> None:
    text = f"my card {sep.join(groups(CARD))} was declined"
    out = redact(text)
    assert not any(g in out for g in groups(CARD)), out
    assert out.startswith("my card [") and out.endswith("] was declined")


@pytest.mark.parametrize("phone", ["555\u20130199", "555\u20110199", "555\u22120199",
                                   "555 dot 0199", "415\n555\n0199", "415, 555, 0199",
                                   "four one five five five five zero one nine nine"])
def test_phones_joined_by_any_dash_word_or_line_are_masked(phone: str) -> None:
    out = redact(f"call me on {phone} after five")
    assert "0199" not in out and "zero one nine" not in out, out


def test_digits_spelled_as_words_are_masked() -> None:
    words = "four five three two zero one five one one two eight three zero three six six"
    assert redact(f"my card is {words} ok") == "my card is [CARD] ok"


def test_quantities_dates_and_version_labels_stay() -> None:
    for text in ("1,234,567 people came", "between 1939-1945 and 2019, 2020, 2021",
                 "pi is 3.14159", "released 2024-01-15 at 10:30", "decode('iso-8859-1')",
                 "one two three", "In 2024 Microsoft released 3 Redis clusters"):
        assert redact(text) == text
        assert not find_digit_chains(normalise(text).text)


@pytest.mark.parametrize("text,value", [
    ("DB_PASSWORD=)5bQ7VJe!zwg in the .env file", ")5bQ7VJe!zwg"),
    ("PGPASSWORD=hunter22 psql -h db", "hunter22"),
    ('{"api_key": "abc123def456"}', "abc123def456"),
    ("my passphrase is correct horse battery staple and it fails", "horse battery staple"),
    ("mail me: jane.roe at example dot com", "jane.roe"),
    ("write to jane＠example.org today", "jane"),
    ("the link had jane%40example.org in it", "jane"),
    ("write to josé@correo.es or ivan@почта.рф", "почта"),
    ("my PAN is ABCPE1234F", "ABCPE1234F"),
    ("patient MRN 4821 needs a refill", "4821"),
    ("passport number C01X00T47", "C01X00T47"),
    ("I was born on the third of March 1985 in a small town", "March 1985"),
])
def test_secrets_and_identifiers_told_by_their_wording(text: str, value: str) -> None:
    assert value not in redact(text)


@pytest.mark.parametrize("text,name", [
    ("Please forward this to 王伟 before the meeting.", "王伟"),
    ("Please forward this to 遠藤 美加子 before the meeting.", "美加子"),
    ("Please forward this to 김민준 before the meeting.", "민준"),
    ("Please forward this to محمد العلي before the meeting.", "محمد"),
    ("Please forward this to דוד כהן before the meeting.", "כהן"),
    ("Please forward this to राहुल शर्मा before the meeting.", "शर्मा"),
    ("my friend john smith said it broke", "smith"),
    ("PLEASE CALL JOHN SMITH ABOUT THE BILL", "SMITH"),
    ("Priya asked me to reset the router.", "Priya"),
    ("Madison asked me to reset the router.", "Madison"),
    ("Bitte schick das an Tilly Losekann.", "Losekann"),
    ("Bitte schick das an Elke van der Dussen.", "Dussen"),
    ("my friend adam williams said it broke", "williams"),
    # lower case, the names also words or places: told by where they stand or by a
    # common name beside them that is no word
    ("my colleague roberto little can't log in", "roberto"),
    ("debra shelton is my manager", "shelton"),
    ("please call sean jackson about the bill", "jackson"),
    ("PLEASE CALL SEAN JACKSON ABOUT THE BILL", "JACKSON"),
    ("the order was placed by angela kim", "angela"),
    ("haley anderson will join the call later", "haley"),
    ("who is madison johnson?", "madison"),
    # a rare surname after a cue, and a surname that is a word somewhere
    ("Meeting notes from Serafina Fieramosca: all good.", "Fieramosca"),
    ("Please cc Patrizia Farinelli-Sagese on the invoice.", "Sagese"),
    ("Please cc Edith Warmer on the invoice.", "Warmer"),
    ("Merci d'envoyer le devis à Melania Einaudi avant lundi.", "Einaudi"),
    # a first name that is a common word, before what people do or a rare surname; the
    # first half of a double first name
    ("Adam asked me to reset the router.", "Adam"),
    ("Bitte schick das an Ben Ruppersberger.", "Ruppersberger"),
    ("Bitte schick das an Margaud-Catherine Pereira.", "Margaud"),
    ("Alan can't access the dashboard.", "Alan"),
    ("Faith and I tried twice.", "Faith"),
    ("is karl ward-ahmed on call tonight?", "ahmed"),
    ("我叫王伟，请联系李娜女士。", "李娜"),
    ("Меня зовут Иван Петров.", "Петров"),
])
def test_names_in_any_script_and_case_are_masked(text: str, name: str) -> None:
    assert name not in redact(text)


def test_product_library_place_and_code_words_stay() -> None:
    text = ("I use Redis, FastAPI, MongoDB, ESLint, Next.js on Vercel with Flask; Microsoft "
            "TypeError None True False in Britain. ¿Qué pasa? ipaddress.IPv6Network works. "
            "Will you help me? New York, San Francisco and Paris. from the standard library. "
            "The van der Waals force. I drove the van to Berlin. She asked. It said no. oh yeah "
            "haha, but yeah hey")
    assert redact(text) == text
    assert find_names(normalise("Rose garden, grace period, Mark it done").text) == []
    for ordinary in ("call rose garden centre", "please email grace period info",
                     "oh yeah haha", "will do, mark my words"):
        assert redact(ordinary) == ordinary
    for ordinary in ("She asked me twice.", "ask Abu Dhabi's office", "contact New York office",
                     "hard to tell the story while walking", "even light cannot escape it",
                     "what is the female called?", "small humans haha you said what i typed",
                     "Hey didn't we talk?", "raise TypeError('Any cannot be instantiated')",
                     "She and I went.", "a well-known issue",
                     # the lower-case rules read English: in other languages these are words
                     "Un valor de -1 implica usar la ruta por defecto, en otro caso no.",
                     "Om terug te keren naar een situatie waarbij de toepassing werkt.",
                     "Jika pengguna saling berebut sumber daya, anda mungkin ingin batch.",
                     "Listy AND i OR są sekwencjami jednego lub więcej potoków."):
        assert redact(ordinary) == ordinary
    # past a name of two words, a capitalised common word is not taken for a surname
    assert redact("Sarah Connor Chronicles fans") == "[NAME] Chronicles fans"


def test_a_possessive_stays_outside_the_mask() -> None:
    assert redact("Priya's laptop is broken") == "[NAME]'s laptop is broken"


def test_destinations_redact_the_text_they_show_after_shortening() -> None:
    text = f"card {chr(10).join(groups(CARD))}\nplease \x1b[2J\x1b[31mcheck\x1b[0m \x07it"
    out = shown(text, limit=80)
    assert out == "card [CARD] please check it"
    assert Privacy("raw").show("a \x1b]8;;http://x\x07link\x1b]8;;\x07 b") == "a link b"
    assert Privacy("none").show(text) is None


def test_redaction_is_idempotent_on_every_form() -> None:
    for text in ("Please forward this to 遠藤 美加子 now", "DB_PASSWORD=x9y8z7w6",
                 "call 555 dot 0199", "my friend john smith"):
        once = redact(text)
        assert redact(once) == once


def test_the_lexicon_is_the_one_its_provenance_describes() -> None:
    import json
    from importlib import resources

    from llmwatch.detectors.person_names import lexicon, verify

    data = resources.files("llmwatch.detectors") / "data"
    born = json.loads((data / "person_names.provenance.json").read_text())
    assert born["command"] == "python -m training.name_lexicon" and born["sources"]
    assert len(lexicon()) > 500_000
    raw = (data / "person_names.tsv.gz").read_bytes()
    verify(raw, born)
    with pytest.raises(RuntimeError, match="make train"):
        verify(raw + b"\0", born)
