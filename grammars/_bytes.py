"""Token bytes: what each token id stands for, and a check that a backend reads them right."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from reasoner.grammars._matcher import encode

__all__ = ["closing_token_ids", "reads_tokens_right", "token_bytes"]

# newline, tab, runs of spaces, accents, CJK and an emoji: what byte encodings get wrong
_PROBE: Final = 'a\n\tb  c {"k": "caf\u00e9 \u00fc\u4e2d\u6587 \U0001f600"}\n\n'
_BYTE_TOKEN: Final = re.compile(r"<0x([0-9A-Fa-f]{2})>")


def reads_tokens_right(decode_bytes: Callable[[list[int]], bytes], tokenizer: Any) -> bool:
    """Whether a backend's token table turns the probe's tokens back into the probe's bytes."""
    ids = encode(tokenizer, _PROBE)
    return bool(decode_bytes(ids) == _PROBE.encode("utf-8"))


def closing_token_ids(tokenizer: Any, vocab_size: int) -> list[int]:
    """Ids of the tokens whose bytes are only ``"``, ``]`` and ``}``: the tokens that close a
    JSON string, array or object (a decoder steers to these to end an instance in time)."""
    return [i for i, raw in enumerate(token_bytes(tokenizer, vocab_size)) if raw and not raw.strip(b'"]}')]


def token_bytes(tokenizer: Any, vocab_size: int) -> list[bytes]:
    """The bytes each token id stands for (added tokens: their text).

    ByteLevel BPE pieces map back through the GPT-2 byte table; SentencePiece pieces turn
    ``\u2581`` into a space and ``<0xAB>`` into that byte.
    """
    byte_level = '"ByteLevel"' in tokenizer.backend_tokenizer.to_str()
    decoder = _byte_decoder()
    added = {int(i): t.content for i, t in tokenizer.added_tokens_decoder.items()}
    pieces = tokenizer.convert_ids_to_tokens(list(range(vocab_size)))
    out: list[bytes] = []
    for token_id, piece in enumerate(pieces):
        if token_id in added:
            out.append(added[token_id].encode("utf-8"))
        elif piece is None:
            out.append(b"")
        elif byte_level and all(c in decoder for c in piece):
            out.append(bytes(decoder[c] for c in piece))
        elif (m := _BYTE_TOKEN.fullmatch(piece)) is not None:
            out.append(bytes([int(m.group(1), 16)]))
        else:
            out.append(piece.replace("\u2581", " ").encode("utf-8"))
    return out


def _byte_decoder() -> dict[str, int]:
    # the GPT-2 byte <-> printable character table of ByteLevel BPE
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}
