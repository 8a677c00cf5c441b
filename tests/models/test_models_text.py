"""Incremental detokenization and stop strings, the text side of the decode loop."""

from __future__ import annotations

from typing import Any

import pytest

from reasoner.models._decode import IncrementalDetokenizer, StopMatcher


@pytest.mark.parametrize("text", ["héllo 日本語 🙂 done", "plain ascii words, 12345", "ＡＢＣ 한국어 ✓✓"])
def test_detokenizer_never_emits_partial_characters(smol_tokenizer: Any, text: str) -> None:
    ids = smol_tokenizer.encode(text, add_special_tokens=False)
    # multi-byte characters are split over several byte-level tokens
    assert len(ids) > len(text.split())
    detok = IncrementalDetokenizer(smol_tokenizer)
    pieces = [detok.push([i]) for i in ids] + [detok.flush()]
    assert "".join(pieces) == text
    assert not any("\ufffd" in p for p in pieces)


def test_detokenizer_flushes_a_dangling_partial_character(smol_tokenizer: Any) -> None:
    ids = smol_tokenizer.encode("a日", add_special_tokens=False)
    detok = IncrementalDetokenizer(smol_tokenizer)
    shown = "".join(detok.push([i]) for i in ids[:-1])
    assert shown == "a"  # the incomplete character is held back
    assert detok.flush() == "\ufffd"


def test_stop_split_across_pieces_is_found_and_not_emitted() -> None:
    stops = StopMatcher(["</answer>", "STOP"])
    assert stops.push("The result is 42<") == ("The result is 42", False)
    assert stops.push("/ans") == ("", False)
    assert stops.push("wer> trailing") == ("", True)


def test_held_text_that_is_not_a_stop_comes_back() -> None:
    stops = StopMatcher(["\n\n"])
    assert stops.push("line\n") == ("line", False)
    assert stops.push("next") == ("\nnext", False)
    assert stops.push("end\n") == ("end", False)
    assert stops.flush() == "\n"


def test_earliest_stop_wins_and_no_stops_passes_through() -> None:
    assert StopMatcher(["b", "cd"]).push("acdb") == ("a", True)
    assert StopMatcher([]).push("anything") == ("anything", False)
