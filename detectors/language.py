"""A tiny language guesser (stopword overlap): enough to see a language mix change."""

from __future__ import annotations

import re

_WORDS = re.compile(r"[^\W\d_]+", re.UNICODE)
_STOPWORDS = {
    "en": "the and is are you to of in it that what how do i for this with be have not on",
    "es": "el la de que y en los es un una por para con no lo como qué las del se",
    "fr": "le la les de et est un une que en pour pas qui dans des du ce je vous",
    "de": "der die das und ist nicht ein eine ich zu den mit es sie wie was auf für",
    "pt": "o a de que e do da em um uma para com não os as é se na no",
    "it": "il la di che e è un una per non con del della le gli sono come cosa",
    "nl": "de het een en is van ik te dat niet wat op zijn voor met hoe",
}
_SETS = {lang: set(words.split()) for lang, words in _STOPWORDS.items()}
_LANGS_OF: dict[str, tuple[str, ...]] = {}
for _lang, _words in _SETS.items():
    for _w in _words:
        _LANGS_OF[_w] = (*_LANGS_OF.get(_w, ()), _lang)


def guess_language(text: str) -> str:
    """ISO 639-1 code of the likeliest language, or 'und' when there is too little to tell.

    >>> guess_language("How do I reset the password of my account?")
    'en'
    >>> guess_language("¿Cómo puedo cambiar la contraseña de mi cuenta?")
    'es'
    """
    words = [w.lower() for w in _WORDS.findall(text[:2000])]  # plenty to tell
    if len(words) < 3:
        return "und"
    scores = dict.fromkeys(_SETS, 0)  # one lookup per word, not one per word and language
    for w in words:
        for lang in _LANGS_OF.get(w, ()):
            scores[lang] += 1
    best = max(scores, key=lambda lang: scores[lang])
    return best if scores[best] >= 1 else "und"
