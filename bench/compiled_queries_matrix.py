"""Size and run time of the compiled-query matrix: rule x SIEM target x fixture event.

    .venv/bin/python bench/compiled_queries_matrix.py

Prints how many (rule, target, case) runs there are, how long building documents and running the
emulated queries takes, and the mismatch count (the test suite asserts on those; this only
measures).
"""

from __future__ import annotations

import time
from pathlib import Path

from sigma_ext.build.compile import compile_all
from sigma_ext.content.corpus import load_corpus
from sigma_ext.content.fixtures import load_cases
from sigma_ext.emulate.verdict import compiled_matches

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    started = time.perf_counter()
    corpus = load_corpus(ROOT, ROOT / "profiles" / "example.yml")
    results = compile_all(corpus)
    cases = load_cases(ROOT / "fixtures", [r.stem for r in corpus.rules])
    loaded = time.perf_counter()
    runnable = [r for r in results if r.status in ("ok", "degraded")]
    runs = differ = 0
    for result in runnable:
        for case in cases:
            if case.source == result.source.name:
                runs += 1
                differ += compiled_matches(result, case.event) != (result.rule.stem in case.fires)
    finished = time.perf_counter()
    rules = len(corpus.rules)
    targets = len({r.target.name for r in results})
    print(f"rules {rules}, SIEM targets {targets}, fixture cases {len(cases)}")
    print(f"compilations {len(results)} ({len(runnable)} with a query)")
    print(f"matrix runs {runs}, verdicts differing from the fixtures {differ} (degraded, listed)")
    print(f"load + compile {loaded - started:.2f} s, matrix {finished - loaded:.2f} s")
    print(f"per run {(finished - loaded) / max(runs, 1) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
