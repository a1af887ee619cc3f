#!/usr/bin/env bash
# usage: scripts/compare-outputs.sh OUTDIR
# Writes this checkout's `sigma-ext build` output and the hunt output of both engines on every
# fixture into OUTDIR, so that a change that should change nothing can be shown to: run it before
# and after (for example from a `git worktree` of main) and compare with `diff -r BEFORE AFTER`.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$1"
rm -rf "$out"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
sigma=(.venv/bin/python -m sigma_ext)
"${sigma[@]}" build --out "$out/build" 2>&1 | sed "s#$out#OUT#g" >"$out/build.stdout"
git ls-files 'fixtures/*.jsonl' 'fixtures/*.log' | sort | while read -r fixture; do
    name="$(echo "$fixture" | tr / _)"
    for engine in fast reference; do
        rc=0
        "${sigma[@]}" hunt --engine "$engine" "$fixture" >"$out/hunt.$engine.$name" 2>&1 || rc=$?
        echo "rc=$rc" >>"$out/hunt.$engine.$name"
    done
done
echo "wrote $out"
