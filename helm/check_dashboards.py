#!/usr/bin/env python3
"""Checks the Grafana dashboards shipped with the chart (helm/mojaloop/dashboards/*.json):

- each file is JSON with a `uid` and `title` no other dashboard has;
- every panel has a datasource and a grid position, and every query an `expr`;
- every metric a query names literally (`moja_<service>_<name>`, with `_bucket`, `_sum` or
  `_count` for histograms) is one the switch registers: the prefix (`"moja_cl_"`) and the name
  (`"transfer_total"`) are string literals in the Rust sources. Names matched by a regular
  expression (`{__name__=~"moja_.*_http_requests_total"}`) are left alone.

Usage: check_dashboards.py REPOSITORY_ROOT DASHBOARD.json...
"""
import json
import pathlib
import re
import sys

METRIC = re.compile(r"\b(moja_[a-z]+_)([a-z0-9_]+)")
SUFFIXES = ("_bucket", "_sum", "_count")


def panels(board):
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def main():
    root = pathlib.Path(sys.argv[1])
    sources = "\n".join(
        path.read_text()
        for folder in ("services", "libs")
        for path in (root / folder).rglob("*.rs")
        if "/tests/" not in str(path)
    )
    failures, uids, titles, queries = [], {}, {}, 0
    for name in sys.argv[2:]:
        try:
            board = json.loads(pathlib.Path(name).read_text())
        except (OSError, ValueError) as error:
            failures.append(f"{name}: {error}")
            continue
        for key, seen in (("uid", uids), ("title", titles)):
            value = board.get(key)
            if not value:
                failures.append(f"{name}: no {key}")
            elif value in seen:
                failures.append(f"{name}: {key} {value!r} is also {seen[value]}'s")
            else:
                seen[value] = name
        for panel in panels(board):
            if panel.get("type") == "row":
                continue
            where = f"{name}: panel {panel.get('title')!r}"
            if "gridPos" not in panel or "datasource" not in panel:
                failures.append(f"{where}: no gridPos or datasource")
            for target in panel.get("targets", []):
                expr = target.get("expr")
                if not expr:
                    failures.append(f"{where}: query {target.get('refId')} has no expr")
                    continue
                queries += 1
                for prefix, metric in METRIC.findall(expr):
                    candidates = [metric] + [metric[: -len(s)] for s in SUFFIXES if metric.endswith(s)]
                    if f'"{prefix}"' not in sources:
                        failures.append(f"{where}: no service has the prefix {prefix}")
                    elif not any(f'"{c}"' in sources for c in candidates):
                        failures.append(f"{where}: no service registers {prefix}{metric}")
    print(f"{len(sys.argv) - 2} dashboards, {queries} queries checked")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
