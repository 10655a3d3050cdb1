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
    """One row of the table. A sample of None is a run that never got there (stopped at the
    bench's cap, or failed)."""

    measurement: str
    what: str
    unit: str
    samples: list[float | None] = field(default_factory=list)
    baseline_of: str | None = None           # `what` of the row this one is divided by
    target: str = ""
    check: Callable[[Figure, Figure | None], bool] | None = None
    notes: list[str] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    cap: float | None = None                 # where the bench stops a run (a None sample)

    def add(self, value: float | None) -> None:
        """Record a sample with the 1-minute load average at that moment."""
        self.samples.append(value)
        self.loads.append(os.getloadavg()[0])

    @property
    def values(self) -> list[float]:
        return [v for v in self.samples if v is not None]

    @property
    def median(self) -> float | None:
        """Median over all runs; an unfinished run counts as larger than any measured one."""
        if not self.samples:
            return None
        ordered = sorted(self.samples, key=lambda v: (v is None, v or 0.0))
        middle = ordered[(len(ordered) - 1) // 2: len(ordered) // 2 + 1]
        if any(v is None for v in middle):
            return None
        return statistics.fmean(middle)  # type: ignore[arg-type]

    @property
    def unfinished(self) -> int:
        return sum(v is None for v in self.samples)

    def summary(self, baseline: Figure | None) -> dict[str, Any]:
        ratio, ratio_bound = None, None
        if baseline and self.median is not None and baseline.median:
            ratio = self.median / baseline.median
        elif baseline and self.median is not None and baseline.cap and baseline.median is None:
            ratio_bound = self.median / baseline.cap  # the baseline took longer than its cap
        met = self.check(self, baseline) if self.check else None
        return {
            "measurement": self.measurement,
            "what": self.what,
            "unit": self.unit,
            "runs": len(self.samples),
            "unfinished_runs": self.unfinished,
            "median": self.median,
            "min": min(self.values) if self.values else None,
            "max": max(self.values) if self.values else None,
            "baseline": self.baseline_of,
            "ratio_to_baseline": ratio,
            "ratio_to_baseline_below": ratio_bound,
            "target": self.target,
            "target_met": met,
            "samples": self.samples,
            "load_average_1m": self.loads,
            "notes": self.notes,
        }


def fmt(value: float | None, unit: str, unfinished: bool = False) -> str:
    if value is None:
        return "unfinished" if unfinished else "-"
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
        if row.get("ratio_to_baseline_below") is not None:
            ratio = f"< {row['ratio_to_baseline_below']:.2f}x"
        if row["baseline"] is None and row["ratio_to_baseline"] is None and row.get("is_baseline"):
            ratio = "baseline"
        met = {True: "yes", False: "**no**", None: ""}[row["target_met"]]
        runs = str(row["runs"]) + (f" ({row['unfinished_runs']} unfinished)" if row["unfinished_runs"] else "")
        unfinished = row["unfinished_runs"] > 0
        lines.append("| " + " | ".join([
            row["measurement"], row["what"], row["unit"], runs,
            fmt(row["median"], row["unit"], unfinished), fmt(row["min"], row["unit"]),
            fmt(row["max"], row["unit"], unfinished), ratio, row["target"], met,
        ]) + " |")
    return "\n".join(lines)
