"""The prompt module's own wording: the account of a quiet scene description and the version."""

from __future__ import annotations

from vad.stage2 import prompts


def test_a_quiet_account_repeats_the_lines_in_one_sentence():
    lines = ["a person stands in the centre of the view ", "", "4 people walk; 12 people in view."]
    assert prompts.quiet_account(lines) == (
        "Nothing was measured moving unusually fast or slow: a person stands in the centre of "
        "the view; 4 people walk; 12 people in view."
    )
    assert prompts.one_sentence(prompts.quiet_account(lines)) == prompts.quiet_account(lines)


def test_a_quiet_account_of_a_crowded_view_is_held_to_the_sentence_limit():
    """A busy view's scene description runs long; its account is cut at a word like the LLM's
    sentences, and closed."""
    lines = [
        f"a person stands near the bench at the left of the view, number {i}" for i in range(9)
    ]
    full = prompts.QUIET_ACCOUNT.format(lines="; ".join(lines))
    assert len(full) > prompts.SENTENCE_LIMIT
    account = prompts.quiet_account(lines)
    assert len(account) <= prompts.SENTENCE_LIMIT and account.endswith(".")
    assert full.startswith(account[:-1]) and full[len(account) - 1] == " "  # a whole word
    assert account[-2] not in ";, "
    assert prompts.one_sentence(account) == account


def test_sentences_are_cut_at_a_word_within_the_limit():
    assert prompts.closed_sentence("a b c d", limit=6) == "a b c."
    assert prompts.closed_sentence("ab cd; ef", limit=8) == "ab cd."
    assert prompts.closed_sentence("abcdefgh", limit=5) == "abcd."  # one long word: a hard cut
    assert prompts.closed_sentence("It is fine.", limit=11) == "It is fine."
    assert prompts.first_sentence("abc defg", limit=7) == "abc"


def test_a_quiet_account_of_nothing_says_so():
    assert prompts.quiet_account([]) == (
        "Nothing was measured moving unusually fast or slow: nothing is described."
    )


def test_the_version_covers_the_quiet_account(monkeypatch):
    """A stored summary's version says which text produced it, the LLM's or this one."""
    before = prompts._digest()
    monkeypatch.setattr(prompts, "QUIET_ACCOUNT", "Quiet: {lines}.")
    assert prompts._digest() != before
