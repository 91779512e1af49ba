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


def test_a_quiet_account_of_nothing_says_so():
    assert prompts.quiet_account([]) == (
        "Nothing was measured moving unusually fast or slow: nothing is described."
    )


def test_the_version_covers_the_quiet_account(monkeypatch):
    """A stored summary's version says which text produced it, the LLM's or this one."""
    before = prompts._digest()
    monkeypatch.setattr(prompts, "QUIET_ACCOUNT", "Quiet: {lines}.")
    assert prompts._digest() != before
