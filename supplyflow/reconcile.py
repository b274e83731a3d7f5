"""`supplyflow reconcile`: where the carrier, the warehouse and the books disagree.

Three checks, each a Flink SQL file in sql/flink/ (so analysts can run the same query in
`supplyflow sql`), run as one batch over the output tables and the normalized movements:

- PO lines whose delivered and received quantities differ by more than 2 %;
- shipments delivered according to the carrier but never received into stock;
- cycle counts that disagreed with the books (COUNT_VARIANCE).

People get a table per check; tools get the same rows as JSON (`--json-out FILE`,
default `.data/reconcile.json`).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from connectors import ddl
from supplyflow import config, runner

CHECKS = (
    ("delivered_vs_received", "PO lines: delivered and received differ by more than 2 %",
     "reconcile_delivered_vs_received.sql"),
    ("delivered_not_received", "Shipments delivered by the carrier, never received",
     "reconcile_delivered_not_received.sql"),
    ("count_variances", "Cycle counts that disagreed with the books", "reconcile_count_variances.sql"),
)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def run_checks(settings: config.Settings) -> dict[str, dict[str, Any]]:
    """{check: {"title", "columns", "rows"}} for every check."""
    t_env = runner.batch_table_env(settings)
    results = {}
    for name, title, sql in CHECKS:
        columns, rows = runner.query(t_env, ddl.sql_file(sql))
        results[name] = {"title": title, "columns": columns,
                         "rows": [dict(zip(columns, map(_plain, row), strict=True)) for row in rows]}
    return results


def render(results: dict[str, dict[str, Any]]) -> str:
    """A text table per check, or a line saying it found nothing."""
    out = []
    for check in results.values():
        rows = check["rows"]
        out.append(f"== {check['title']}: {len(rows)}")
        if not rows:
            continue
        cols = check["columns"]
        cells = [[("" if r[c] is None else str(r[c])) for c in cols] for r in rows]
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
        out.append("  " + "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
        out += ["  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(out)


def main(settings: config.Settings, json_out: Path | None = None) -> int:
    """Run every check, print the tables, write the JSON; returns the exit code."""
    results = run_checks(settings)
    print(render(results))
    json_out = json_out or settings.data_dir / "reconcile.json"
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps({name: check["rows"] for name, check in results.items()}, indent=2, default=str))
    print(f"\nwritten to {json_out}")
    return 0
