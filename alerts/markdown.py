"""Text we did not write (names, topic labels, explanations) for GitHub and Jira issues: shown
as written, never as markup — no mention, image, link, heading, table or code span.

Both GitHub Markdown and Jira's wiki markup honour a backslash before punctuation, so one
escape serves both; `@` gets a zero-width joiner (no mention) and `://` a zero-width space
(no autolink). Titles are plain text on both: only mentions and line breaks are defused.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~^=&:;\"'?$%])")


def tracker_text(text: object) -> str:
    """For an issue body: `![x](https://e.example/p.png) @octocat` shows as written."""
    plain = _CONTROL.sub(" ", str(text)).replace("://", ":\u200b//")
    return _PUNCTUATION.sub(r"\\\1", plain).replace("@", "@\u200d")


def tracker_title(text: object) -> str:
    """For an issue title (plain text on GitHub and Jira)."""
    return _CONTROL.sub(" ", str(text)).replace("@", "@\u200d")
