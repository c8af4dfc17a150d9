"""How every regular expression in citebot scales on hostile text: linear, or worse.

A document, a page or a question is attacker-controlled text, and a pattern with nested or
adjacent unbounded quantifiers can backtrack quadratically or cubically on it (`# a`, 1,990
spaces and `b` took a heading search 20.9 s). This finds every compiled pattern of the
`retrieval` and `bot` packages (module-level `re.Pattern`s, and the literal patterns of inline
`re.search(...)`-style calls), runs each over inputs made of a repeated piece (spaces, dots,
digits, words, …) between a few prefixes and suffixes, at two sizes, and prints the patterns
whose time grows faster than the input (growth exponent, slowest input, its time):

    .venv/bin/python benchmarks/regex_scaling.py [--size 1000] [--all]

An exponent near 1 is linear; 2 quadratic; 3 cubic. Read the list as suspects: `finditer`
is timed (every start position), so a pattern used only with `match`, or only on a few
characters (the date check's "quarter" after an ordinal), looks worse here than it is in use;
and on a busy machine a disturbed timing can pass a linear pattern off as faster
growing (time it again alone, or run this on a quiet machine).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import math
import re
import time
from pathlib import Path

from common import ROOT

PACKAGES = ("retrieval", "bot")
PIECES = (
    " ", "\t", "\n", " \n", ".", ",", "-", "'", "’", "#", "[", "$", "%", "…", "!",
    "a", "A", "1", "a ", "A ", "1 ", "1,", "1.", "a.", "A.", "a-", "a'", "Aa ", "aA",
    "the ", "The ", "of ", "in ", "A of ", "1st ", "q1 ", "Q1 ", "one ", "a b ",
    ". ", "A. ", "# ", "[1]", "[1", "http://a", "x\n\n", "-- ", "2024 ", "2024-",
    "March ", "March 1 ", "1 March ", "since ", "before the ", "who ", "$1 ", "1%",
)  # fmt: skip
PREFIXES = ("", "# a", "a", "When ", "before the ", "$")
SUFFIXES = ("", "b", "\x00")


def patterns() -> dict[str, re.Pattern[str]]:
    """Every compiled pattern of the packages, by 'module.NAME' (or 'module:line')."""
    found: dict[str, re.Pattern[str]] = {}
    for path in sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py")):
        module_name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if isinstance(value, re.Pattern) and isinstance(value.pattern, str):
                found[f"{module_name}.{name}"] = value
            elif isinstance(value, tuple):  # e.g. dates._COMPILED: ((kind, pattern), …)
                for i, item in enumerate(value):
                    inner = item[1] if isinstance(item, tuple) and len(item) == 2 else item
                    if isinstance(inner, re.Pattern) and isinstance(inner.pattern, str):
                        found[f"{module_name}.{name}[{i}]"] = inner
        found.update(_inline(path, module_name))
    return found


def _inline(path: Path, module_name: str) -> dict[str, re.Pattern[str]]:
    """Patterns written inline: re.search(r"…", …), re.sub(r"…", …), …, with a literal."""
    found: dict[str, re.Pattern[str]] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "re"
            and node.func.attr in ("search", "match", "fullmatch", "sub", "findall", "finditer")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            flags = 0
            for arg in [*node.args[3:], *(k.value for k in node.keywords)]:
                if isinstance(arg, ast.Attribute) and arg.attr in ("I", "IGNORECASE"):
                    flags |= re.I
            found[f"{module_name}:{node.lineno}"] = re.compile(node.args[0].value, flags)
    return found


def _time(pattern: re.Pattern[str], text: str) -> float:
    started = time.perf_counter()
    for _ in pattern.finditer(text):
        pass
    return time.perf_counter() - started


def worst(pattern: re.Pattern[str], size: int) -> tuple[float, float, str]:
    """(growth exponent, time at `size`, input) of the input that grows fastest."""
    best = (0.0, 0.0, "")
    for piece in PIECES:
        for prefix in PREFIXES:
            for suffix in SUFFIXES:
                small = prefix + piece * max(1, size // 4 // len(piece)) + suffix
                if _time(pattern, small) < 1e-5:
                    continue  # too fast to measure: linear at worst for such a tiny time
                large = prefix + piece * max(1, size // len(piece)) + suffix
                t_small = min(_time(pattern, small) for _ in range(3))
                t_large = min(_time(pattern, large) for _ in range(2))
                if t_small <= 0 or t_large < 2e-4:
                    continue
                exponent = math.log(t_large / t_small) / math.log(len(large) / len(small))
                if exponent > best[0]:
                    best = (exponent, t_large, f"{prefix!r} + {piece!r} × n + {suffix!r}")
    return best


def growth(pattern: re.Pattern[str], text: str, largest: int) -> tuple[float, float, int]:
    """(growth exponent, seconds, characters) of the input described by `text` ('prefix +
    piece × n + suffix'), timed at n, 2n and 4n characters, n doubled from 1,000 until 4n
    takes 0.3 s or reaches `largest`; the smaller of the two exponents, so that one timing
    disturbed by other work on the machine does not pass for growth."""
    prefix, piece, suffix = (ast.literal_eval(part) for part in re.split(r" \+ | × n \+ ", text))

    def timed(n: int) -> float:
        sample = prefix + piece * max(1, n // len(piece)) + suffix
        return max(min(_time(pattern, sample) for _ in range(3)), 1e-9)

    n = 1000
    times = [timed(n), timed(2 * n), timed(4 * n)]
    while times[2] < 0.3 and 8 * n <= largest:
        n *= 2
        times = [*times[1:], timed(4 * n)]
    exponent = min(math.log2(times[1] / times[0]), math.log2(times[2] / times[1]))
    return exponent, times[2], 4 * n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1000, help="characters of the screening input")
    parser.add_argument(
        "--confirm", type=int, default=64_000, help="largest input a suspect is timed on"
    )
    parser.add_argument("--all", action="store_true", help="list linear patterns too")
    args = parser.parse_args()
    found = patterns()
    print(f"{len(found)} patterns; screened on about {args.size:,} characters,")
    print(f"suspects timed again on n and 2n characters (n up to {args.confirm:,})")
    rows = []
    for name, pattern in found.items():
        exponent, seconds, text = worst(pattern, args.size)
        if exponent > 1.5:  # a suspect: time it on inputs large enough to tell
            exponent, seconds, chars = growth(pattern, text, args.confirm)
            text = f"{text} (n = {chars:,})"
        rows.append((exponent, seconds, name, text))
    rows.sort(reverse=True)
    for exponent, seconds, name, text in rows:
        if args.all or exponent > 1.5:
            print(f"{exponent:4.1f}  {seconds * 1000:10.2f} ms  {name}  on {text}")
    slow = sum(1 for row in rows if row[0] > 1.5)
    print(f"{slow} of {len(rows)} grow faster than linear (exponent > 1.5)")


if __name__ == "__main__":
    main()
