"""RFC 8288 Link header parsing: awkward but valid headers, and broken ones that must not crash."""

from __future__ import annotations

import pytest

from apilink.pagination import Link, find_link, parse_link_header


def test_commas_and_semicolons_inside_targets_and_quotes_are_kept() -> None:
    header = '<https://a.example/x?ids=1,2;3>; rel="next last"; title="a, b; c", </y>; REL=prev'
    assert parse_link_header(header) == [
        Link("https://a.example/x?ids=1,2;3", {"rel": "next last", "title": "a, b; c"}),
        Link("/y", {"rel": "prev"}),
    ]


def test_several_relation_types_and_case() -> None:
    assert find_link(['<https://a/2>; rel="Last NEXT"'], "next") == "https://a/2"


def test_the_first_occurrence_of_a_parameter_wins() -> None:
    assert find_link(['</a>; rel="prev"; rel="next"'], "next") is None


def test_escaped_quotes_in_a_quoted_value() -> None:
    links = parse_link_header(r'</a>; title="say \"hi\", then go"; rel=next')
    assert links[0].params == {"title": 'say "hi", then go', "rel": "next"}


def test_next_is_found_across_several_headers() -> None:
    headers = ['</1>; rel="first"', '</help>; rel="help", </3>; rel="next"']
    assert find_link(headers, "next") == "/3"


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        "<unterminated; rel=next",
        'rel="next"',
        '<>; rel="next"',
        ";;;,,,<",
        'junk, </ok>; rel="next"',
    ],
)
def test_malformed_headers_never_raise(header: str) -> None:
    links = parse_link_header(header)
    expected = "/ok" if "</ok>" in header else None
    assert find_link([header], "next") == expected
    assert all(link.target for link in links)
