"""Sentiment of free text with VADER (a lexicon and rule-based model tuned to short social-media
style text): the compound score, -1 (most negative) … 1 (most positive), and its label with VADER's
own cut-offs (≥ 0.05 positive, ≤ -0.05 negative, else neutral).

``c360_sentiment`` is registered on every engine like the cleaning functions, so the gold model
``sentiment.sql`` scores text in SQL on DuckDB and Spark alike. Texts repeat (canned survey
answers, copied comments): each distinct text is scored once per batch.
"""

from __future__ import annotations

from functools import cache

import pyarrow as pa
import pyarrow.compute as pc
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from c360.lake.standardise import Function

POSITIVE, NEGATIVE = 0.05, -0.05


@cache
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()  # loads its lexicon once per process


def compound_one(text: str | None) -> float | None:
    """VADER's compound score of one text; None for no text."""
    if text is None or not text.strip():
        return None
    return float(_analyzer().polarity_scores(text)["compound"])


def label(score: float | None) -> str | None:
    """positive, negative or neutral, by VADER's cut-offs."""
    if score is None:
        return None
    return "positive" if score >= POSITIVE else "negative" if score <= NEGATIVE else "neutral"


def compound(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Vectorised compound score: each distinct text scored once."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    enc = pc.dictionary_encode(values.cast(pa.string()))
    scores = pa.array([compound_one(t) for t in enc.dictionary.to_pylist()], pa.float64())
    return scores.take(enc.indices)


FUNCTIONS: tuple[Function, ...] = (Function("c360_sentiment", compound, 1, "float64"),)
