"""Text columns as numbers drift can test: length, share empty, share valid JSON, share refusing.

LLM traffic drifts in ways a frequency table cannot see: prompts get longer, outputs stop parsing as JSON, the
model starts refusing. Each text value is reduced to

- its length in characters (Unicode code points);
- whether it is *empty*: nothing but whitespace;
- whether it is *valid JSON*: after trimming whitespace it starts with ``{`` or ``[`` and parses as JSON (a bare
  number or string is not counted: a structured-output failure is what the share is for);
- whether it *refuses*: it contains one of the refusal phrases, case-insensitively (an apostrophe in a phrase
  also matches the typographic ’).

All but the JSON parse are vectorised Arrow kernels; only values that start like JSON are parsed.

>>> import pyarrow as pa
>>> f = text_features(pa.array(["  ", '{"a": 1}', "I'm sorry, I can't help", None, "[1, 2"]))
>>> f.lengths.tolist(), f.empty, f.json, f.refusal, f.missing
([2.0, 8.0, 23.0, nan, 5.0], 1, 1, 1, 1)
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["DEFAULT_REFUSAL_PHRASES", "TextFeatures", "refusal_pattern", "text_features"]

DEFAULT_REFUSAL_PHRASES: tuple[str, ...] = (
    "I can't", "I cannot", "I can not", "I'm sorry", "I am sorry", "I apologize", "I'm unable", "I am unable",
    "I won't", "I will not", "As an AI", "I'm not able to", "I am not able to",
)


@dataclass(frozen=True)
class TextFeatures:
    lengths: np.ndarray  # float64, NaN where the value is missing
    empty: int
    json: int
    refusal: int
    missing: int


def refusal_pattern(phrases: Sequence[str]) -> str | None:
    """One case-insensitive regular expression matching any phrase; ``None`` for no phrases."""
    def char(c: str) -> str:
        if c in "'’":
            return "['’]"
        return c if c.isalnum() or c == " " else re.escape(c)

    parts = ["".join(char(c) for c in phrase) for phrase in phrases if phrase]
    return "|".join(parts) if parts else None


def _count_true(mask: pa.Array | pa.ChunkedArray) -> int:
    return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)


def text_features(array: pa.Array | pa.ChunkedArray,
                  phrases: Sequence[str] = DEFAULT_REFUSAL_PHRASES) -> TextFeatures:
    """Length, blank, JSON and refusal figures of one chunk of a string column (nulls are missing)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = pc.cast(array, pa.string())
    missing = array.null_count
    lengths = pc.cast(pc.utf8_length(array), pa.float64())
    lengths_np = np.asarray(pc.fill_null(lengths, np.nan).to_numpy(zero_copy_only=False), dtype=np.float64)
    trimmed = pc.utf8_trim_whitespace(array)
    empty = _count_true(pc.equal(pc.utf8_length(trimmed), 0))
    starts = pc.or_(pc.starts_with(trimmed, "{"), pc.starts_with(trimmed, "["))
    candidates = pc.filter(trimmed, pc.fill_null(starts, False)).to_pylist()
    parsed = 0
    for text in candidates:
        try:
            json.loads(text)
        except ValueError:
            continue
        parsed += 1
    pattern = refusal_pattern(phrases)
    refusal = 0
    if pattern is not None:
        refusal = _count_true(pc.match_substring_regex(array, pattern=pattern, ignore_case=True))
    return TextFeatures(lengths_np, empty, parsed, refusal, missing)
