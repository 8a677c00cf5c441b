from __future__ import annotations

import pytest

from reasoner.tools._docstring import parse_docstring


def test_empty_docstrings() -> None:
    for doc in (None, "", "   \n  "):
        parsed = parse_docstring(doc)
        assert (parsed.description, parsed.params, parsed.returns) == ("", {}, None)


def test_plain_text_is_all_description() -> None:
    parsed = parse_docstring("Search the corpus.\n\n    Returns up to five hits.\n    ")
    assert parsed.description == "Search the corpus.\n\nReturns up to five hits."
    assert parsed.params == {}


def test_google_entries_with_types_continuations_and_other_sections() -> None:
    parsed = parse_docstring(
        """Summary line.

        Args:
            query (str): What to look for.
            limit: How many
                results to return.
            *tags: Ignored tags.

        Raises:
            ValueError: never a parameter.

        Example:
            limit: not a parameter either
        """
    )
    assert parsed.description == "Summary line."
    assert parsed.params == {"query": "What to look for.", "limit": "How many results to return.", "tags": "Ignored tags."}


def test_google_returns_drops_a_leading_type_but_keeps_prose_with_a_colon() -> None:
    assert parse_docstring("S.\n\nReturns:\n    list[str]: The hits.\n").returns == "The hits."
    assert parse_docstring("S.\n\nReturns:\n    The hits, sorted: best first.\n").returns == "The hits, sorted: best first."


def test_numpy_entries_with_shared_descriptions() -> None:
    parsed = parse_docstring(
        """Summary.

        Parameters
        ----------
        x, y : float
            Coordinates.
        label
            A name
            for the point.

        Returns
        -------
        str
            The label.
        """
    )
    assert parsed.params == {"x": "Coordinates.", "y": "Coordinates.", "label": "A name for the point."}
    assert parsed.returns == "The label."
    assert parsed.description == "Summary."


@pytest.mark.parametrize("field", ["param", "parameter", "arg", "key"])
def test_sphinx_fields(field: str) -> None:
    parsed = parse_docstring(f"Summary.\n\n:{field} int count: How many.\n:type count: int\n:return: Total.\n")
    assert parsed.params == {"count": "How many."}
    assert parsed.returns == "Total."
    assert parsed.description == "Summary."
