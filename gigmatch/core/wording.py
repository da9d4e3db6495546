"""English wording helpers for the messages users read: counts that agree with their nouns and verbs,
and ``a``/``an``.

The message templates live in :mod:`matcher.explain` (batch and API answers, which re-exports these)
and :mod:`gigmatch.core.vocabulary` (the ``validate`` report); both phrase counts through here, so
"1 job", "2 jobs" and "an electrician_cert certificate" come out right everywhere (issue #20).
"""

from __future__ import annotations


def plural(count: float, singular: str, plural_form: str | None = None) -> str:
    """``count`` and the noun agreeing with it: ``1 job``, ``3 jobs``, ``1.5 years``, ``0 workers``.

    Only a count of exactly one is singular; ``plural_form`` defaults to ``singular + "s"``.
    """
    noun = singular if count == 1 else (plural_form or singular + "s")
    return f"{count:g} {noun}"


def verb(count: float, singular: str, plural_form: str) -> str:
    """The verb agreeing with ``count`` subjects: ``verb(1, "lacks", "lack") == "lacks"``."""
    return singular if count == 1 else plural_form


def with_article(phrase: str) -> str:
    """``phrase`` with ``a`` or ``an`` before it, by its first letter: ``an electrician_cert certificate``.

    A Latin vowel letter takes ``an``; everything else (consonants, digits, Chinese) takes ``a``.
    Spelling, not sound, decides (``a uniform``-type exceptions are rare in trade and certificate codes).
    """
    first = phrase.lstrip()[:1].lower()
    return f"{'an' if first in 'aeiou' and first else 'a'} {phrase}"
