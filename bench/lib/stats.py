"""Figures: samples of one quantity, summarised as median, min and max, compared with the
baseline measured in the same run, and checked against the issue's target."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Figure:
    """One row of the table. A sample of None is a run that never got there (capped)."""

    measurement: str
    what: str
    unit: str
    samples: list[float | None] = field(default_factory=list)
    baseline_of: str | None = None           # `what` of the row this one is divided by
    target: str = ""
    check: Callable[[Figure, Figure | None], bool] | None = None
    notes: list[str] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)

    def add(self, value: float | None) -> None:
        """Record a sample with the 1-minute load average at that moment."""
        self.samples.append(value)
        self.loads.append(os.getloadavg()[0])

    @property
    def values(self) -> list[float]:
        return [v for v in self.samples if v is not None]

    @property
    def median(self) -> float | None:
        """Median over all runs; a capped run counts as larger than any measured one."""
        if not self.samples:
            return None
        ordered = sorted(self.samples, key=lambda v: (v is None, v or 0.0))
        middle = ordered[(len(ordered) - 1) // 2: len(ordered) // 2 + 1]
        if any(v is None for v in middle):
            return None
        return statistics.fmean(middle)  # type: ignore[arg-type]

    @property
    def capped(self) -> int:
        return sum(v is None for v in self.samples)

    def summary(self, baseline: Figure | None) -> dict[str, Any]:
        ratio = None
        if baseline and self.median is not None and baseline.median:
            ratio = self.median / baseline.median
        met = self.check(self, baseline) if self.check else None
        return {
            "measurement": self.measurement,
            "what": self.what,
            "unit": self.unit,
            "runs": len(self.samples),
            "capped_runs": self.capped,
            "median": self.median,
            "min": min(self.values) if self.values else None,
            "max": max(self.values) if self.values else None,
            "baseline": self.baseline_of,
            "ratio_to_baseline": ratio,
            "target": self.target,
            "target_met": met,
            "samples": self.samples,
            "load_average_1m": self.loads,
            "notes": self.notes,
        }


def fmt(value: float | None, unit: str, capped: bool = False) -> str:
    if value is None:
        return "capped" if capped else "-"
    if unit == "s":
        return f"{value:.2f}"
    if unit == "MiB":
        return f"{value:.1f}"
    return f"{value:.0f}"


def table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table, printed by bench/run and pasted into bench/README.md."""
    header = ["measurement", "what", "unit", "runs", "median", "min", "max", "ratio", "target", "met"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        ratio = f"{row['ratio_to_baseline']:.2f}x" if row["ratio_to_baseline"] is not None else "-"
        if row["baseline"] is None and row["ratio_to_baseline"] is None and row.get("is_baseline"):
            ratio = "baseline"
        met = {True: "yes", False: "**no**", None: ""}[row["target_met"]]
        runs = str(row["runs"]) + (f" ({row['capped_runs']} capped)" if row["capped_runs"] else "")
        capped = row["capped_runs"] > 0
        lines.append("| " + " | ".join([
            row["measurement"], row["what"], row["unit"], runs,
            fmt(row["median"], row["unit"], capped), fmt(row["min"], row["unit"]),
            fmt(row["max"], row["unit"], capped), ratio, row["target"], met,
        ]) + " |")
    return "\n".join(lines)
