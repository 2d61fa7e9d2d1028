#!/usr/bin/env python3
"""Reference oracle for the Rust VADER scorer: vaderSentiment 3.3.2 from PyPI.

Default mode: read UTF-8 lines on stdin (split on "\\n" only, so "\\r",
"\\x1c", "\\u2028" and friends stay inside a line, exactly as the Rust test
writes them) and print one compact JSON object per line:
{"neg":…,"neu":…,"pos":…,"compound":…}

`--unicode` mode: print the Unicode facts the scorer relies on (str.isspace,
str.isupper, str.islower, str.istitle, str.lower for every code point this
Python knows), so the Rust test can check its own text primitives.

`--version` mode: print the installed vaderSentiment version, so a test can
refuse to compare against the wrong release.

Exit status 3 means the reference package is missing.
"""

import json
import sys
import unicodedata

try:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
except ImportError:  # the Rust test turns this into a skip or a CI failure
    sys.stderr.write("vaderSentiment is not installed: pip install vaderSentiment==3.3.2\n")
    sys.exit(3)


def installed_version():
    from importlib.metadata import version

    return version("vaderSentiment")


def score_lines():
    analyzer = SentimentIntensityAnalyzer()
    data = sys.stdin.buffer.read()
    lines = data.split(b"\n")
    # the writer ends every line with "\n", which leaves one empty tail
    if lines and lines[-1] == b"":
        lines.pop()
    out = sys.stdout
    for raw in lines:
        scores = analyzer.polarity_scores(raw.decode("utf-8"))
        out.write(json.dumps(scores, separators=(",", ":")))
        out.write("\n")


def ranges(code_points):
    """Compress sorted code points into [start, end] inclusive pairs."""
    result = []
    for cp in code_points:
        if result and result[-1][1] == cp - 1:
            result[-1][1] = cp
        else:
            result.append([cp, cp])
    return result


def unicode_facts():
    assigned, space, upper, lower, title = [], [], [], [], []
    lower_map = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue  # surrogates cannot occur in a Rust str
        ch = chr(cp)
        if unicodedata.category(ch) == "Cn":
            continue  # unassigned in this Python: its Unicode version predates the char
        assigned.append(cp)
        if ch.isspace():
            space.append(cp)
        if ch.isupper():
            upper.append(cp)
        if ch.islower():
            lower.append(cp)
        if ch.istitle() and unicodedata.category(ch) == "Lt":
            title.append(cp)
        low = ch.lower()
        if low != ch:
            lower_map.append([cp, low])
    facts = {
        "unicode_version": unicodedata.unidata_version,
        "assigned": ranges(assigned),
        "space": ranges(space),
        "upper": ranges(upper),
        "lower": ranges(lower),
        "title": ranges(title),
        "lower_map": lower_map,
        # contexts where str.lower() looks at neighbours (final sigma)
        "samples": {s: s.lower() for s in ["ΟΔΟΣ", "ΣΑΣ", "Σ", "AΣ.", "AΣ'Σ", "İSTANBUL", "KELVIN\u212a"]},
    }
    json.dump(facts, sys.stdout, ensure_ascii=False, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    if "--version" in sys.argv[1:]:
        print(installed_version())
    elif "--unicode" in sys.argv[1:]:
        unicode_facts()
    else:
        score_lines()
