"""The pure text rules: folding for search, multi-valued tags, track numbers, years, sort names."""

from __future__ import annotations

import pytest

from mediahub_music_library.names import fold, number_pair, prefix_words, sort_name, split_values, year_of


@pytest.mark.parametrize("text, folded", [
    ("Beyoncé", "beyonce"), ("Sigur Rós", "sigur ros"), ("Mötley Crüe!", "motley crue"),
    ("Ølafur Arnalds", "olafur arnalds"), ("STRASSE", "strasse"), ("Straße", "strasse"),
    ("  AC/DC  ", "ac dc"), ("Łódź_Blues", "lodz blues"), ("Björk", "bjork")])
def test_fold_removes_case_accents_and_punctuation(text, folded):
    assert fold(text) == folded


def test_a_query_and_the_name_fold_to_the_same_words():
    assert prefix_words("  BEYON ") == ["beyon"] and fold("Beyoncé").startswith("beyon")
    assert prefix_words("sigur ro") == ["sigur", "ro"]


def test_multi_valued_tags_become_distinct_names_in_order():
    separators = [";", " / ", " feat. "]
    assert split_values(["A; B", "C / A", "D feat. E"], separators) == ["A", "B", "C", "D", "E"]
    assert split_values(["Beyoncé", "BEYONCE"], separators) == ["Beyoncé"]
    assert split_values([" ; ", ""], separators) == []
    # AC/DC has no spaced slash: one artist, not two.
    assert split_values(["AC/DC"], separators) == ["AC/DC"]


@pytest.mark.parametrize("value, pair", [
    ("3", (3, None)), ("3/12", (3, 12)), (" 03 / 12 ", (3, 12)), (7, (7, None)),
    ("0/0", (None, None)), ("A1", (None, None)), ("", (None, None)), (None, (None, None))])
def test_track_and_disc_numbers(value, pair):
    assert number_pair(value) == pair


@pytest.mark.parametrize("value, year", [
    ("1997", 1997), ("1997-05-21", 1997), ("21.05.1997", 1997), ("97", None), ("0000", None),
    (None, None)])
def test_years_come_out_of_any_date_form(value, year):
    assert year_of(value) == year


def test_sort_names_ignore_a_leading_the_and_accents():
    assert sort_name("The Beatles") == "beatles"
    assert sort_name("The") == "the"
    assert sorted(["Zappa", "The Beatles", "Édith Piaf"], key=sort_name) == [
        "The Beatles", "Édith Piaf", "Zappa"]
