#!/usr/bin/env python3
"""Generate the differential-test corpus for the VADER scorer, deterministically.

    python3 crates/allele-listen/scripts/gen_vader_corpus.py > crates/allele-listen/tests/data/vader_corpus.txt

One sentence per line ("\\n" only; other line-ish characters such as "\\r",
"\\x1c", "\\x85" or "\\u2028" appear *inside* sentences on purpose). The first
part walks every rule of the algorithm by hand-written templates; the second
draws random sentences from the shipped lexicons with a fixed seed, so the
same script always writes the same file (random.Random is stable across
Python 3 versions for randrange/choice/random).
"""

import itertools
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")

SUBJECTS = ["The movie", "VADER", "this phone", "Service", "My order", "The café", "Das Essen",
            "the naïve plan", "THE FOOD", "Support", "İstanbul hotel", "ΣΟΦΟΣ team", "ǅuro"]
VERBS = ["is", "was", "isn't", "wasn't", "is not", "was never", "seems", "ain't", "never was",
         "is NOT", "cannot be", "won't be", "is without doubt", "is nothing but"]
MODIFIERS = ["", "very", "extremely", "kind of", "sort of", "kinda", "barely", "hardly", "VERY",
             "so", "this", "totally", "somewhat", "just enough", "really really", "the most",
             "at least", "the least", "very least", "least", "uber", "FRIGGIN", "slightly"]
ADJECTIVES = ["good", "great", "bad", "horrible", "amazing", "terrible", "fine", "okay", "GOOD",
              "BAD", "sux", "uncompelling", "compelling", "happy", "sad", "the shit", "the bomb",
              "bad ass", "badass", "to die for", "yeah right", "kiss of death", "beating heart",
              "bus stop", "no good", "a problem", "no problem", "LOVE", "hate", "meh", "lol",
              "(good)", "'bad'", "...great...", "--horrible--", "ok,", "no,", "good!", "bad?",
              "dead", "killer", "HAPPY", "Happy", "ǅobro", "ＧＯＯＤ", "ｇｏｏｄ", "\u212aind of good"]
ENDINGS = ["", ".", "!", "!!", "!!!", "!!!!!!", "?", "??", "???", "????", "?!", " :)", " :(",
           " :D", " ;)", " <3", " :-P", " 😁", " 💘", "😡", " 😂😂", "🔛", " 🆙!", " ©", " 🇬🇧",
           " 👍🏽", " ☺️", " :/", " D:", " xD", "…"]
FIXED = [
    "",
    " ",
    "\t",
    "!!!",
    "???",
    ":)",
    ":-)",
    ":D",
    "😁",
    "💘💋😁",
    "VADER is smart, handsome, and funny.",
    "VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!",
    "VADER is not smart, handsome, nor funny.",
    "At least it isn't a horrible book.",
    "The book was only kind of good.",
    "The plot was good, but the characters are uncompelling and the dialog is not great.",
    "Today SUX!",
    "Today only kinda sux! But I'll get by, lol",
    "Make sure you :) or :D today!",
    "Catch utf-8 emoji such as 💘 and 💋 and 😁",
    "Not bad at all",
    "Sentiment analysis has never been good.",
    "Sentiment analysis has never been this good!",
    "Most automated sentiment analysis tools are shit.",
    "With VADER, sentiment analysis is the shit!",
    "Other sentiment analysis tools can be quite bad.",
    "On the other hand, VADER is quite bad ass",
    "VADER is such a badass!",
    "Without a doubt, excellent idea.",
    "Roger Dodger is one of the most compelling variations on this theme.",
    "Roger Dodger is at least compelling as a variation on the theme.",
    "Roger Dodger is one of the least compelling variations on this theme.",
    "Not such a badass after all.",
    "Without a doubt, an excellent idea.",
    "no no no",
    "no",
    "No.",
    "NO good",
    "no or bad",
    "no nor bad",
    "not no or good",
    "good but bad but good",
    "good good good but bad bad bad",
    "but",
    "BUT good",
    "great great but great great",
    "good, bad, good, bad but good, bad",
    "kind of",
    "kind",
    "it is kind of the shit",
    "the shit the bomb",
    "he is a bad ass",
    "this pizza is to die for",
    "yeah right, great service",
    "kiss of death for the band",
    "my beating heart",
    "i waited at the bus stop happily",
    "never so good",
    "never this good",
    "a never so good",
    "it was so very good",
    "it was this very good",
    "without doubt good",
    "it is without any doubt good",
    "I am so happy so happy",
    "least good",
    "at least good",
    "very least good",
    "the least good thing",
    "not the least bit bad",
    "nope, not good",
    "uh-uh bad",
    "I don't like it",
    "I dont like it",
    "I DON'T LIKE IT",
    "I DON'T like it",
    "couldn't be better",
    "hasn't been worse",
    "despite good reviews it was bad",
    "rarely good, seldom bad",
    "Isn't it great?",
    "ISN'T IT GREAT?!",
    "GREAT",
    "GREAT great",
    "great GREAT",
    "GREAT GOOD FINE",
    "VERY good",
    "very GOOD",
    "VERY GOOD",
    "EXTREMELY bad",
    "not VERY bad",
    "KIND OF good",
    "SORT OF bad",
    "\u212aIND of good",
    "İYİ good",
    "ΣΟΦΟΣ is great",
    "σοφος ΟΔΟΣ good",
    "Ich bin überrascht, nur wie erstaunlich nützlich VADER!",
    "Je suis surpris de voir comment VADER est incroyablement utile !",
    "Я удивлен увидеть, как раз как удивительно полезно ВЕЙДЕРА!",
    "私はちょうどどのように驚くほど役に立つベイダーを見て驚いています!",
    "我很惊讶地看到VADER是如此有用!",
    "ＧＯＯＤ ｂａｄ",
    "ǅ good",
    "ǅungla is great",
    "Ǆ GOOD bad",
    "ǆ good",
    "ǅURO is GOOD",
    "ǅA ǅA GREAT good",
    "ᾈΑ GREAT good",
    "GOOD ᾈ bad",
    "good\x1cbad",
    "good\x1dbad\x1egreat\x1fhappy",
    "good\x85bad",
    "good\u2028bad",
    "good\u2029bad",
    "good\u00a0bad",
    "good\u3000bad",
    "good\u200bbad",
    "good\u180ebad",
    "good\x0bbad\x0cgreat",
    "good\rbad",
    "good\x00bad",
    "\x07\x08 good \x1b[31m bad \x7f",
    "good\u202fbad\u205fgreat",
    "good\u2000bad\u200agreat",
    "good\ufeffbad",
    "😁good",
    "good😁",
    "good 😁 bad",
    "😁😁😁",
    "🔛",
    "🆙🆙🆙",
    "🔛 good 🆙",
    "©®",
    "I ❤ you",
    "I ❤️ you",
    "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f rules",
    "👩‍👩‍👧 family",
    "I 💔 this",
    "good :) bad :(",
    ":) :) :)",
    "(-:O",
    "( '}{' )",
    "can't stand it",
    "I can't stand it",
    "fed up",
    "screwed up",
    "'''''good'''''",
    "!!!good!!!",
    "!good",
    "a!",
    "ab!",
    "abc!",
    "!!",
    "!?!?",
    "?????????",
    "!!!!!!!!!!!!",
    "good !!!! ????",
    "bad !!!! ????",
    "ok ???",
    "meh",
    "lol lol lol",
    "LOL",
    "lmao",
    "Lol, Kind Of Good",
    "Not Bad",
    "NOT BAD",
    "not BAD",
    "The food here is the best. The service? Not so much!!",
    "I HATE MONDAYS",
    "i hate MONDAYS",
    "i HATE mondays",
    "it is the most horrible thing ever",
    "it was SO bad",
    "it was so BAD",
    "hardly good",
    "barely bad",
    "just enough good",
    "it is just enough good",
    "sort of the best",
    "it is sort of the best",
    "a b c kind of good",
    "kind of kind of good",
    "wasn't very good",
    "wasn't the least good",
    "never, ever good",
    "never ever good",
    "12345",
    "#winning",
    "@user great job",
    "http://example.com/good",
    "good.bad.great",
    "good,bad",
    "so-so",
    "Good-bye",
    "don't",
    "n't",
    "won't won't good",
]


def read_lexicon_words():
    words = []
    with open(os.path.join(DATA, "vader_lexicon.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                words.append(line.split("\t")[0])
    return words


def read_emojis():
    emojis = []
    with open(os.path.join(DATA, "emoji_utf8_lexicon.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                emojis.append(line.split("\t")[0])
    return emojis


def emphasise(rng, word):
    """Vary a word's shape: ALL CAPS, Title case, or wrapped in punctuation."""
    roll = rng.random()
    if roll < 0.12:
        return word.upper()
    if roll < 0.2:
        return word.capitalize()
    if roll < 0.26:
        return rng.choice(["(", "'", '"', "*", "...", "-"]) + word + rng.choice([")", "'", '"', "*", "...", ",", "!", "?"])
    return word


def main():
    rng = random.Random(20260415)
    lexicon = read_lexicon_words()
    emojis = read_emojis()
    fillers = ["the", "a", "it", "was", "is", "i", "you", "this", "that", "and", "or", "nor", "of",
               "at", "very", "so", "not", "no", "but", "never", "without", "doubt", "least",
               "kind", "sort", "just", "enough", "really", "don't", "isn't", "ain't", "nothing",
               "bus", "stop", "shit", "bomb", "ass", "die", "for", "to", "yeah", "right",
               "über", "café", "naïve", "straße", "İ", "ı", "ß", "æ", "Ǆ"]
    separators = [" ", " ", " ", " ", "  ", "\t", "\u00a0", "\x1c", "\u2028", "\x0b", "\u3000"]

    sentences = list(FIXED)

    # every subject x verb x modifier x adjective would be too many: take a
    # seeded sample of the product so each rule still meets every neighbour
    grid = list(itertools.product(SUBJECTS, VERBS, MODIFIERS, ADJECTIVES, ENDINGS))
    for subject, verb, modifier, adjective, ending in rng.sample(grid, 900):
        words = [subject, verb, modifier, adjective]
        sentence = " ".join(w for w in words if w) + ending
        sentences.append(sentence)

    for subject, modifier, first, second in rng.sample(
            list(itertools.product(SUBJECTS, MODIFIERS, ADJECTIVES, ADJECTIVES)), 250):
        sentences.append(f"{subject} is {modifier} {first}, but {second}".replace("  ", " "))

    for _ in range(900):
        n = rng.randint(1, 18)
        words = []
        for _ in range(n):
            roll = rng.random()
            if roll < 0.45:
                word = rng.choice(lexicon)
            elif roll < 0.85:
                word = rng.choice(fillers)
            elif roll < 0.95:
                word = rng.choice(emojis)
            else:
                word = rng.choice(["!", "!!!", "?", "???", ":)", ":(", "...", "—", "-", "'"])
            words.append(emphasise(rng, word))
        sentence = ""
        for i, word in enumerate(words):
            if i:
                sentence += rng.choice(separators)
            sentence += word
        sentence += rng.choice(ENDINGS)
        sentences.append(sentence)

    out = sys.stdout.buffer
    for sentence in sentences:
        if "\n" in sentence:
            raise SystemExit("a sentence may not contain \\n: the corpus is one per line")
        out.write(sentence.encode("utf-8"))
        out.write(b"\n")


if __name__ == "__main__":
    main()
