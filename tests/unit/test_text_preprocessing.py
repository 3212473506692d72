"""LAVIS's blip_question / blip_caption, on the cases where naive cleanups differ."""

from blip2_bench.text import blip_caption, blip_question


def test_question_lowercases_and_drops_lavis_punctuation_but_keeps_question_mark():
    assert blip_question('What is "THIS" (a dog)?') == "what is this a dog?"
    assert blip_question("Is it 2.5 or 3: #1*~;!") == "is it 25 or 3 1"


def test_question_strips_only_trailing_spaces_and_keeps_inner_runs():
    # LAVIS rstrip(" ") only; leading and inner spaces survive, a trailing newline too.
    assert blip_question("  why  so ?   ") == "  why  so ?"
    assert blip_question("what\n") == "what\n"


def test_question_truncates_to_50_space_separated_words():
    words = [f"w{i}" for i in range(60)]
    assert blip_question(" ".join(words)) == " ".join(words[:50])
    assert blip_question(" ".join(words[:50])) == " ".join(words[:50])


def test_caption_blanks_punctuation_collapses_spaces_and_strips():
    assert blip_caption("A man (riding) a horse.  ") == "a man riding a horse"
    assert blip_caption("Two dogs:play;on~grass!") == "two dogs play on grass"
    assert blip_caption("  tabs\tand\t\tnewlines\n") == "tabs\tand newlines"


def test_caption_truncates_to_max_words():
    assert blip_caption("a b c d e", max_words=3) == "a b c"
