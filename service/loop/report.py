"""The loop's figures for operators: a plain-text table and a small self-contained HTML page.

Labels come from :mod:`gigmatch.core.labels` (Chinese first, English and the code beside). The page
embeds two charts as PNG data URIs (time to first answer; cases closed by outcome), like the batch
report, so it opens in a browser with no server. It names no worker: follow-ups are counted here;
the list with ids is the operators' endpoint (``/v1/followups``).
"""

from __future__ import annotations

import base64
import html
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gigmatch.core.labels import en, zh  # noqa: E402
from matcher.report import TABLE_STYLE, counts_table  # noqa: E402


def _share(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def _seconds(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.1f} s" if x < 120 else f"{x / 60:.1f} min" if x < 7200 else f"{x / 3600:.1f} h"


def _seconds_zh(x: float) -> str:
    return f"{x:g}秒" if x < 120 else f"{x / 60:g}分钟" if x < 7200 else f"{x / 3600:g}小时"


def stats_lines(stats: dict) -> list[tuple[str, str, str]]:
    """``(中文, English, value)`` rows of :func:`service.loop.stats.loop_stats`'s figures."""
    rows = [
        ("统计时间", "as of", stats["as_of"]),
        ("进行中的求职登记", "open worker cases", str(stats["open_cases"]["worker"])),
        ("进行中的招工岗位", "open job cases", str(stats["open_cases"]["job"])),
        ("尚未回复", "open cases not yet answered", str(sum(stats["unanswered_open"].values()))),
        (
            f"在{_seconds_zh(stats['sla_s'])}内回复的比例",
            f"share answered within the SLA ({_seconds(stats['sla_s'])})",
            _share(stats["answered_within_sla"]),
        ),
        ("首次回复用时（中位数）", "median time to first answer", _seconds(stats["median_first_answer_s"])),
        (
            f"需要回访（{stats['followup_days']:g}天无进展）",
            f"follow-ups due ({stats['followup_days']:g} days without progress)",
            str(stats["followups_due"]),
        ),
    ]
    for kind in ("worker", "job"):
        for outcome, n in sorted(stats["closed_by_outcome"][kind].items(), key=lambda kv: -kv[1]):
            rows.append(
                (f"已结束（{zh(kind)}）：{zh(outcome)}", f"closed {en(kind)} cases: {en(outcome)}", str(n))
            )
    return rows


def stats_text(stats: dict) -> str:
    """The figures as an aligned plain-text table for a terminal."""
    rows = stats_lines(stats)
    width = max(len(r[1]) for r in rows)
    return "\n".join(f"{en_label:<{width}}  {value:>10}  {zh_label}" for zh_label, en_label, value in rows)


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def loop_page(stats: dict) -> str:
    """The loop page (HTML): the figures, closed cases by outcome, and the two charts."""
    rows = "".join(
        f"<tr><th>{html.escape(z)}<br><small>{html.escape(e)}</small></th><td>{html.escape(v)}</td></tr>"
        for z, e, v in stats_lines(stats)
    )
    figs = []
    first = np.asarray(stats["first_answer_s"], dtype=float)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    if len(first):
        ax.hist(first, bins=min(40, max(5, len(first) // 5)), color="#1f77b4")
    ax.axvline(stats["sla_s"], color="#d62728", ls="--", label=f"SLA {_seconds(stats['sla_s'])}")
    ax.set_xlabel("time to first answer (s)")
    ax.set_ylabel("cases")
    ax.legend(fontsize=8)
    figs.append(("首次回复用时 Time to first answer", _png(fig)))
    closed = {
        f"{en(kind)}: {en(outcome)}": n
        for kind in ("worker", "job")
        for outcome, n in stats["closed_by_outcome"][kind].items()
    }
    fig, ax = plt.subplots(figsize=(7, 3.2))
    if closed:  # English in the PNG (its fonts may lack CJK glyphs); the tables carry the Chinese
        names, counts = zip(*sorted(closed.items(), key=lambda kv: kv[1]), strict=True)
        ax.barh(list(names), list(counts), color="#ff7f0e")
    ax.set_xlabel("cases")
    figs.append(("结案原因 Cases closed by outcome", _png(fig)))
    outcome_tables = "".join(
        f"<h3>{zh(kind)} {en(kind)}</h3>{counts_table(stats['closed_by_outcome'][kind]) if stats['closed_by_outcome'][kind] else '—'}"
        for kind in ("worker", "job")
    )
    images = "".join(f"<h2>{html.escape(t)}</h2><img src='{src}' alt='{html.escape(t)}'>" for t, src in figs)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>事事有回音 gigmatch answer loop</title>"
        f"<style>{TABLE_STYLE}</style></head><body><h1>事事有回音 · 回复闭环 (answer loop)</h1>"
        f"<table>{rows}</table><h2>结案原因 Closed cases</h2>{outcome_tables}{images}</body></html>"
    )
