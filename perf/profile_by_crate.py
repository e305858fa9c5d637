#!/usr/bin/env python3
"""Groups a `perf report --no-children --sort sym --stdio -q` listing (self time by function)
by the crate each function belongs to, and lists the hottest functions.

A Rust symbol is put under the first crate of its path that is not core/alloc/std (so
`core::ptr::drop_in_place<hyper::...>` counts as hyper); kernel functions as "kernel"; the
allocator's and libc's functions under their names.
"""
import re
import sys
from collections import defaultdict

LINE = re.compile(r"^\s*([\d.]+)%\s+\[(.)\]\s+(.*)$")
CRATE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)::")
GENERIC = {"core", "alloc", "std", "_", "impl", "dyn", "T", "F", "S"}


def crate_of(kind, symbol):
    if kind == "k":
        return "kernel"
    if symbol.startswith(("mi_", "_mi_")):
        return "mimalloc"
    if symbol.startswith("0x"):
        return "unknown"
    crates = [c for c in CRATE.findall(symbol) if c not in GENERIC]
    if crates:
        return crates[0]
    base = CRATE.findall(symbol)
    if base:
        return base[0]
    return "libc/other: " + symbol.split("@")[0].split(".")[0][:24]


def main():
    by_crate = defaultdict(float)
    by_symbol = []
    for line in sys.stdin:
        match = LINE.match(line)
        if not match:
            continue
        share, kind, symbol = float(match.group(1)), match.group(2), match.group(3).strip()
        by_crate[crate_of(kind, symbol)] += share
        by_symbol.append((share, kind, symbol))
    print("The switch's CPU samples by crate (self time, % of samples):")
    for crate, share in sorted(by_crate.items(), key=lambda item: -item[1])[:30]:
        print(f"  {share:6.2f}  {crate}")
    print()
    print("Hottest functions (self time):")
    for share, kind, symbol in sorted(by_symbol, key=lambda item: -item[0])[:40]:
        print(f"  {share:6.2f}  [{kind}] {symbol[:150]}")


if __name__ == "__main__":
    main()
