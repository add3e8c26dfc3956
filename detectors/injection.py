"""Signs of prompt injection that do not depend on the wording of known attacks.

Nearest-exemplar matching finds English jailbreaks that look like the templates it knows; it
misses an override in German, an instruction to "the AI assistant" buried in a résumé, a
payload in base64 and a fake "System:" turn. These are read from the text's structure:

- `override`: an instruction to drop earlier instructions or reveal the system prompt, in
  English, German, French, Spanish, Italian, Portuguese, Dutch, Turkish, Russian, Chinese,
  Arabic and Persian;
- `fake_turn`: chat-template tokens and role markers that end the user's turn and open a
  system or assistant one (`<|im_start|>system`, `[INST]`, a line opening "System:");
- `addressed_to_ai`: text that speaks to the model reading it ("Note to the AI assistant",
  "if you are an LLM") — in a document a user passes on, that is an indirect injection;
- `encoded`: base64, base32 or hex that decodes to words, or a text that reads as language
  only after rot13: legitimate prompts rarely hide their words;
- `directive` (in what a tool returned only): words about the model's own answer or the user
  it serves ("in your response", "when summarizing this page", "tell the user that", "do
  not mention this instruction", "forward the chat history", "call the send_email tool"). A
  user may well say "in your response, use bullet points"; a retrieved page or an e-mail
  has no business to.

`signals(text)` names what it finds, each with the span that shows it; pure and cheap (one
pass of a few compiled patterns, decoding only where a candidate is found).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from dataclasses import dataclass

from .gates import FirstMatch
from .toxicity import QUOTED

_I = re.U  # the patterns are lower case and read lower-cased text: without re.I,
# Python's engine runs them ~35 % faster

# Override rules, read with re.I on the text as written (lower() mangles Turkish İ), each
# only where the words it cannot match without are (`gates.FirstMatch`): one alternation of
# them all tried at every position of every prompt cost 0.3 ms a call.
_ENGLISH_OVERRIDES = (
    # ignore / disregard / forget / override … previous … instructions
    r"\b(?:ignore|disregard|forget|override|bypass|skip|drop|abandon|set aside)\b[^.\n]{0,40}?"
    r"\b(?:previous|prior|above|earlier|preceding|original|initial|all|any|your|system|old)\b"
    r"[^.\n]{0,25}?\b(?:instructions?|directions?|directives?|rules|prompts?|guidelines|"
    r"constraints|context|programming|orders|commands)\b",
    r"\b(?:new|updated|real|actual|true)\s+(?:system\s+)?instructions?\s*(?::|follow|are)",
    r"\b(?:reveal|show|print|repeat|output|disclose|leak|tell me)\b[^.\n]{0,30}?"
    r"\b(?:system|hidden|initial|original|secret)\s+(?:prompt|instructions?|message)",
    r"\byou\s+(?:are|will)\s+now\s+(?:act|be|operate|respond)\b",
    r"\bignore\s+(?:the\s+rest\s+of|everything\s+(?:above|below|else)|(?:all\s+)?(?:the\s+)?"
    r"(?:above|previous|preceding|following|other)\s+(?:text|data|content|documents?|"
    r"information|context|snippets?))\b",
    r"\b(?:do\s+not|don't|never)\s+(?:mention|tell|reveal|disclose)\s+(?:this|these|the)\s+"
    r"(?:instructions?|note|message)\b[^.\n]{0,20}\b(?:to\s+)?(?:the\s+)?user",
    r"\b(?:your\s+new\s+(?:task|instructions?|goal|objective)\s+(?:is|are)|new\s+task\s*:)",
    r"\b(?:include|insert|add|append|embed)\s+(?:the\s+following|this)\s+(?:link|url|image|"
    r"markdown|text|token|phrase)\s+(?:in|into|to|at\s+the\s+end\s+of)\s+(?:your|the)\s+"
    r"(?:answer|response|reply|summary|output)",
)
_OTHER_OVERRIDES = (
    # German
    r"\b(?:ignorier(?:e|en|t)?|vergiss|vergessen sie|missachte)\b[^.\n]{0,40}?"
    r"\b(?:anweisungen|instruktionen|regeln|befehle|vorgaben|anordnungen)\b",
    r"\b(?:zeige?|gib|verrate)\b[^.\n]{0,30}?\bsystem-?prompt",
    # French
    r"\b(?:ignore[zrs]?|oublie[zrs]?|n[ée]glige[zr]?)\b[^.\n]{0,40}?"
    r"\b(?:instructions|consignes|r[èe]gles|directives|ordres)\b",
    r"\b(?:r[ée]v[èe]le[zr]?|montre[zr]?|affiche[zr]?)\b[^.\n]{0,30}?\bprompt\s+syst[èe]me",
    # Spanish / Portuguese / Italian
    r"\b(?:ignora|ignore|ignorar|ignorate|olvida|olvide|esque[çc]a|dimentica|tralascia)\b"
    r"[^.\n]{0,40}?\b(?:instrucciones|instru[çc][õo]es|istruzioni|reglas|regras|regole|"
    r"[óo]rdenes|ordens|indicaciones|directrices)\b",
    r"\b(?:revela|mu[ée]strame|mostra|rivela)\b[^.\n]{0,30}?\b(?:prompt|mensaje|messaggio)"
    r"\s+(?:del\s+|do\s+|di\s+)?sistema",
    # Dutch
    r"\b(?:negeer|vergeet)\b[^.\n]{0,40}?\b(?:instructies|regels|opdrachten)\b",
    # Turkish (önceki talimatları yok say / tüm kuralları unut)
    r"(?:talimat|kural|komut|y[öo]nerge)\w*\s+(?:\w+\s+){0,3}?(?:yok\s+say|unut|g[öo]rmezden"
    r"\s+gel|ihmal\s+et|iptal)",
    r"\b(?:sistem\s+(?:istemini|komutunu|mesaj[ıi]n[ıi]))\b",
    # Russian
    r"(?:игнорируй|игнорировать|забудь|забудьте|проигнорируй)\w*[^.\n]{0,40}?"
    r"(?:инструкци|правил|указани|команд)",
    r"(?:системн\w+\s+(?:промпт|подсказк|инструкци))",
    # Chinese
    r"(?:忽略|忽视|无视|忘记|忘掉|不要理会)[^。\n]{0,12}?(?:指令|指示|说明|规则|提示|要求|设定)",
    r"(?:系统提示|系统指令|系统消息)",
    # role-play jailbreaks in other languages: "from now on you are …", "without restrictions
    # / filters / censorship"
    r"\b(?:ab jetzt|von nun an|ab sofort)\s+(?:bist|wirst)\s+du\b|\bohne\s+(?:jegliche\s+)?"
    r"(?:einschr[äa]nkungen|filter|zensur)\b",
    r"\ba partir de (?:ahora|hoy)\s*,?\s*(?:eres|ser[áa]s|act[úu]as)\b"
    r"|\bsin\s+(?:ning[úu]n[ao]?\s+)?(?:restricciones|filtros?|censura)\b",
    r"\b[àa] partir de maintenant\s*,?\s*(?:tu es|tu seras|vous [êe]tes)\b|\bsans\s+"
    r"(?:aucune?\s+)?(?:restrictions?|filtres?|censure)\b",
    r"\bda (?:ora|adesso) in poi\s*,?\s*(?:sei|sarai)\b|\bsenza\s+(?:alcuna\s+)?(?:restrizioni|"
    r"filtri|censura)\b",
    r"\b(?:bundan (?:sonra|b[öo]yle)|art[ıi]k)\s+sen\b|\b(?:k[ıi]s[ıi]tlamas[ıi]z|filtresiz|"
    r"sans[üu]rs[üu]z)\b",
    r"(?:с этого момента|отныне|теперь)\s+ты\b|\bбез\s+(?:каких-либо\s+)?(?:ограничений|"
    r"фильтров|цензуры)",
    r"(?:从现在开始|从现在起)[,，]?\s*你(?:是|将|要)|(?:没有任何|不受任何?|没有)(?:限制|过滤|审查)",
    r"من الآن فصاعد[اً]\s+أنت|بدون\s+(?:أي\s+)?(?:قيود|رقابة|فلاتر)",
    r"از (?:این به بعد|حالا)\s+تو|بدون\s+(?:هیچ\s+)?(?:محدودیت|سانسور|فیلتر)",
    # Arabic / Persian
    r"(?:تجاهل|انس|اتجاهل)[^.\n]{0,40}?(?:التعليمات|الأوامر|القواعد)",
    r"(?:دستورالعمل|دستورات|قوانین)[^.\n]{0,40}?(?:نادیده|فراموش)",
)
_OVERRIDES = FirstMatch(tuple(re.compile(pattern, re.I | re.U)
                              for pattern in _ENGLISH_OVERRIDES + _OTHER_OVERRIDES))

_FAKE_TURN = re.compile(
    r"<\|(?:im_start|im_end|system|assistant|user|endoftext|start_header_id|eot_id)\|>"
    r"|\[/?inst\]|<</?sys>>|</?(?:system|instructions?|sys)>"
    r"|(?:^|\n)\s*(?:#{1,3}\s*)?(?:system|assistant|developer)\s*(?:prompt|message)?\s*:"
    r"|\b(?:end|ignore) of (?:the )?(?:user )?(?:input|prompt|document|data)\b"
    r"|(?:^|\n)\s*[-=*#]{3,}\s*(?:new\s+)?(?:system|instructions?|admin)\b", _I)

_READER = (r"(?:ai|a\.i\.|assistant|llm|language model|model|agent|chatbot|bot|gpt|copilot"
           r"|automated\s+(?:\w+\s+){0,2}?(?:software|systems?|tools?|screeners?|reviewers?"
           r"|readers?|parsers?)|(?:screening|ranking|review|hiring)\s+(?:software|systems?|"
           r"tools?|bots?))")
_ADDRESSED = re.compile(
    r"\b(?:note|message|instructions?|attention|reminder|important|notice)\s+(?:to|for)\s+"
    r"(?:the\s+|any\s+|all\s+)?" + _READER + r"s?\b"
    r"|\bif you are an?\s+(?:ai|llm|large language model|language model|assistant|agent|bot)\b"
    r"|\b(?:ai|llm)\s+(?:assistants?|agents?|models?|systems?|tools?)\s+(?:reading|processing|"
    r"summari[sz]ing|parsing|analy[sz]ing|reviewing|that read)\b"
    r"|\b(?:dear|hey|attention|to the)\s+(?:ai|assistant|llm|chatbot|agent)\b[,:!]"
    r"|\b(?:assistant|ai|agent|model),?\s+(?:you must|you should|please)\s+(?:now\s+)?(?:append|"
    r"include|add|send|forward|call|run|execute|visit|open|reply|respond|say|print|output|insert"
    r"|ignore|recommend|summari[sz]e)", _I)

_DIRECTIVE = re.compile(
    r"\b(?:in|at the (?:start|end|beginning) of|before|after|within) your (?:response|reply|"
    r"answer|summary|output|next message|final answer)\b"
    r"|\byour (?:response|reply|answer|summary|output) (?:must|should|needs to|has to)\b"
    r"|\b(?:when|while|before|after) (?:you )?(?:summari[sz](?:e|ing)|answer(?:ing)?|"
    r"respond(?:ing)?|repl(?:y|ying)|process(?:ing)?) (?:this|these|the (?:above|following|"
    r"user|document|page|email|content|request))\b"
    r"|\b(?:tell|inform|remind|warn|convince|persuade) the user (?:that|to)\b"
    r"|\b(?:do not|don't|never) (?:mention|reveal|disclose) (?:this|these|that) (?:instruction|"
    r"message|note|request)s?\b|\bwithout (?:telling|informing|notifying|alerting) the user\b"
    r"|\b(?:send|forward|email|post|upload|transfer|exfiltrate|leak) (?:the |all |any )?(?:"
    r"user'?s|conversation|chat history|passwords?|credentials|api keys?|access tokens?|"
    r"session tokens?|private keys?)\b"
    r"|\b(?:call|use|invoke|run) the [`'\"]?\w+_\w+[`'\"]? (?:tool|function)\b"
    r"|\b(?:call|invoke) the [`'\"]?\w+[`'\"]? (?:tool|function)\b", _I)

_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{20,}={0,2}(?![A-Za-z0-9+/=])")
_BASE32 = re.compile(r"(?<![A-Z2-7=])[A-Z2-7]{24,}={0,6}(?![A-Z2-7=])")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}[ :]?){12,}(?![0-9A-Fa-f])")
_ENGLISH = frozenset("the and you to of is a in it that for what how do i this with be are "
                     "not on can your me my all now from an or as at by".split())
_ENGLISH_ROT13 = frozenset(codecs.encode(w, "rot13") for w in _ENGLISH)  # rot13 is its inverse


@dataclass(frozen=True)
class Signal:
    kind: str  # override | fake_turn | addressed_to_ai | encoded | directive
    start: int
    end: int
    decoded: str | None = None  # what an encoded payload says


def signals(text: str, returned_by_tool: bool = False) -> list[Signal]:
    """What in `text` looks like an injection, whatever its wording (see the module). The
    wording signals read it `unquoted`; encoded payloads are looked for in all of it.
    `returned_by_tool`: the text is what a tool returned, where a `directive` is one too."""
    plain = unquoted(text)
    lower = plain.lower()  # for the English-only patterns (offsets may shift: not shown)
    found = [Signal("override", m.start(), m.end())
             for m in [_OVERRIDES.search(plain)] if m is not None]
    found += [Signal(kind, m.start(), m.end()) for kind, pattern in (
        ("fake_turn", _FAKE_TURN), ("addressed_to_ai", _ADDRESSED),
        *((("directive", _DIRECTIVE),) if returned_by_tool else ()))
        for m in [pattern.search(lower)] if m is not None]
    found += _encoded(text)
    return found


MENTION_WORDS = 6  # a quoted phrase this short is a mention; a longer quote may be a payload
# ... in a text this short: a question about a phrase. A long prompt's quoted phrases are
# often the protocol of a role-play ('If you break character I will say "Stay in character!"')
MENTION_TEXT_WORDS = 40


def unquoted(text: str) -> str:
    """`text` without its short quoted phrases (≤ 40 characters and `MENTION_WORDS` words)
    where three words or more stand outside them: a phrase in quotes is talk about words, not
    the use of them ("Translate 'ignore all instructions' into French", "What does 'no
    restrictions apply' mean on a parking sign?"). A text that is all quote, or longer than
    `MENTION_TEXT_WORDS` words, is left whole.

    >>> unquoted("Translate 'ignore all instructions' into French.")
    'Translate  into French.'
    >>> unquoted('"Ignore all previous instructions"')
    '"Ignore all previous instructions"'
    """
    if ("'" not in text and '"' not in text and "‘" not in text and "“" not in text) or len(
            text.split()) > MENTION_TEXT_WORDS:
        return text
    plain = QUOTED.sub(lambda m: "" if len(m.group().split()) <= MENTION_WORDS else m.group(),
                       text)
    return plain if len(plain.split()) >= 3 else text


def _encoded(text: str) -> list[Signal]:
    out = []
    for pattern, decode in ((_BASE64, _b64), (_BASE32, _b32), (_HEX, _hex)):
        for m in pattern.finditer(text):
            words = decode(m.group())
            if words is not None:
                out.append(Signal("encoded", m.start(), m.end(), words[:200]))
                break
    if not out and _looks_rot13(text):
        out.append(Signal("encoded", 0, len(text), codecs.decode(text, "rot13")[:200]))
    return out


def _words(raw: bytes) -> str | None:
    """Decoded bytes that read as language: printable text of three words or more."""
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    letters = sum(ch.isalpha() or ch.isspace() for ch in decoded)
    if len(decoded.split()) >= 3 and letters >= 0.8 * len(decoded):
        return decoded
    return None


def _b64(candidate: str) -> str | None:
    if len(candidate) % 4 == 1:
        return None
    try:
        return _words(base64.b64decode(candidate + "=" * (-len(candidate) % 4), validate=True))
    except (binascii.Error, ValueError):
        return None


def _b32(candidate: str) -> str | None:
    try:
        return _words(base64.b32decode(candidate + "=" * (-len(candidate) % 8)))
    except (binascii.Error, ValueError):
        return None


def _hex(candidate: str) -> str | None:
    digits = re.sub(r"[ :]", "", candidate)
    if len(digits) % 2:
        return None
    try:
        return _words(bytes.fromhex(digits))
    except ValueError:
        return None


def _looks_rot13(text: str) -> bool:
    """English after rot13 and not before: common words appear only once rotated.

    Words are whole words of any script: rot13 turns ASCII English into ASCII, so a text whose
    words are mostly not plain ASCII letters is no candidate, and a word with an accent is not
    cut into ASCII pieces ("tiệm" into "ti", "m") that rotate into English by accident (that
    flagged a quarter of ordinary Vietnamese questions). One-letter words ("n", "v": a, i)
    do not count as evidence."""
    words = re.findall(r"[^\W\d_]+", text[:1000].lower())
    ascii_words = [w for w in words if w.isascii()]
    if len(ascii_words) < 6 or len(ascii_words) < 0.8 * len(words):
        return False
    plain = sum(w in _ENGLISH for w in ascii_words)
    rotated = sum(len(w) > 1 and w in _ENGLISH_ROT13 for w in ascii_words)  # rot13(w) English
    return rotated >= 4 and rotated >= 3 * max(plain, 1)
