"""Write an assignment run's files: CSVs, ``summary.json`` and a self-contained ``report.html``.

The HTML embeds its plots as PNG data URIs (matplotlib, Agg backend), so an operator opens it in a
browser with no server. The map shows coordinates rounded to 0.01 degrees (about 1 km) so that no
exact home location leaves the machine in a shareable file.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gigmatch.core.labels import en, zh  # noqa: E402
from matcher.batch import AssignmentResult  # noqa: E402

TABLE_STYLE = (
    "body{font-family:sans-serif;margin:2em}th,td{text-align:left;padding:2px 1em 2px 0;vertical-align:top}"
    "table.counts td:last-child{text-align:right}code{color:#555}img{max-width:100%}"
)


def counts_table(counts: dict) -> str:
    """An HTML table of ``{code: count}``: Chinese label, English label and code, count; largest first."""
    body = "".join(
        f"<tr><td>{html.escape(zh(k))}</td><td>{html.escape(en(k))} <code>{html.escape(str(k))}</code></td>"
        f"<td>{int(v):,}</td></tr>"
        for k, v in sorted(counts.items(), key=lambda kv: -kv[1])
    )
    return f"<table class='counts'><tr><th>原因</th><th>reason</th><th>数量 count</th></tr>{body}</table>"


def summary_rows(summary: dict) -> str:
    """HTML table rows of a batch summary: each field labelled in Chinese and English (with its code),
    counts by reason as nested tables, never a raw Python dict."""
    out = []
    for k, v in summary.items():
        if isinstance(v, dict):
            cell = counts_table(v) if v else "—"
        elif isinstance(v, float) and k.endswith("rate"):
            cell = f"{v:.1%}"
        else:
            cell = html.escape("—" if v is None else str(v))
        label = f"{html.escape(zh(k))}<br><small>{html.escape(en(k))} <code>{html.escape(k)}</code></small>"
        out.append(f"<tr><th>{label}</th><td>{cell}</td></tr>")
    return "".join(out)


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _plots(result: AssignmentResult, seed: int = 0) -> list[tuple[str, str]]:
    p = result.pairs
    rng = np.random.default_rng(seed)
    out = []
    fig, ax = plt.subplots(figsize=(7, 6))
    wl = rng.choice(len(p["worker_lat"]), min(len(p["worker_lat"]), 5000), replace=False)
    ax.scatter(
        np.round(p["worker_lon"][wl], 2),
        np.round(p["worker_lat"][wl], 2),
        s=2,
        c="#bbbbbb",
        label="workers (sample)",
    )
    ax.scatter(p["job_lon"], p["job_lat"], s=8, c="#d62728", label="jobs")
    k = rng.choice(len(p["a_job"]), min(len(p["a_job"]), 1500), replace=False)
    for j, w in zip(p["a_job"][k], p["a_worker"][k], strict=True):  # plotting only, not a hot path
        ax.plot(
            [p["job_lon"][j], round(p["worker_lon"][w], 2)],
            [p["job_lat"][j], round(p["worker_lat"][w], 2)],
            lw=0.3,
            c="#1f77b4",
            alpha=0.5,
        )
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title("Assignments (lines), worker homes rounded to ~1 km")
    out.append(("Map", _png(fig)))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.hist(p["distance_km"], bins=40, color="#1f77b4")
    ax.set_xlabel("distance job - worker (km)")
    ax.set_ylabel("assignments")
    out.append(("Distance", _png(fig)))
    fig, axes = plt.subplots(1, 2, figsize=(13, 3.5))
    fig.subplots_adjust(wspace=0.8)
    unfilled, unmatched = result.unfilled_jobs, result.unmatched_workers
    # jobs, like unfilled_jobs.csv and the summary's unfilled_reasons beside it; the open slots in the title
    for ax, (title, unit, counts) in zip(
        axes,
        (
            (
                f"Unfilled jobs by reason ({len(unfilled)} jobs, {int(unfilled['open_slots'].sum())} open slots)",
                "jobs with open slots",
                unfilled["reason"].value_counts(),
            ),
            (
                f"Unmatched workers by reason ({len(unmatched)})",
                "workers",
                unmatched["reason"].value_counts(),
            ),
        ),
        strict=True,
    ):
        counts = counts.sort_values()
        # English labels in the PNG (its fonts may lack CJK glyphs); the page's tables carry the Chinese
        ax.barh([en(c) for c in counts.index], counts.to_numpy(), color="#ff7f0e")
        ax.set_title(title)
        ax.set_xlabel(unit)
    out.append(("Reasons", _png(fig)))
    return out


def write_outputs(result: AssignmentResult, out_dir: str | Path) -> Path:
    """Write a batch run's files into ``out_dir`` (created if need be).

    Parameters
    ----------
    result : AssignmentResult
        From :func:`matcher.batch.run_batch`.
    out_dir : str or Path
        The folder to write ``assignments.csv``, ``unfilled_jobs.csv``, ``unmatched_workers.csv``,
        ``summary.json`` and ``report.html`` into; existing files of those names are replaced.

    Returns
    -------
    Path
        ``out_dir``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result.assignments.to_csv(out / "assignments.csv", index=False)
    result.unfilled_jobs.to_csv(out / "unfilled_jobs.csv", index=False)
    result.unmatched_workers.to_csv(out / "unmatched_workers.csv", index=False)
    (out / "summary.json").write_text(json.dumps(result.summary, ensure_ascii=False, indent=1, default=str))
    rows = summary_rows({k: v for k, v in result.summary.items() if k != "per_day"})
    per_day = result.summary.get("per_day")  # multi-day runs (matcher.shifts): one row per day
    if per_day:
        head = "".join(
            f"<th>{html.escape(zh(k))}<br><small>{html.escape(k)}</small></th>" for k in per_day[0]
        )
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in d.values()) + "</tr>" for d in per_day
        )
        rows += f"</table><h2>每日 per day</h2><table><tr>{head}</tr>{body}"
    figs = "".join(f"<h2>{t}</h2><img src='{src}' alt='{t}'>" for t, src in _plots(result))
    (out / "report.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>gigmatch assignment report</title>"
        f"<style>{TABLE_STYLE}</style>"
        f"</head><body><h1>派工报告 gigmatch assignment report</h1><table>{rows}</table>{figs}</body></html>",
        encoding="utf-8",
    )
    return out
