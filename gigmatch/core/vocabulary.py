"""The vocabulary report: how a market's trade and certificate codes were read, and what will surprise.

``gigmatch validate --data DIR`` prints it. A county platform writes its own codes (``cook``,
``cert_health``), Chinese names (``厨师``, ``健康证``) or both; the report says, per code, how each text
was read (the exact code, a name or synonym of it, or unknown), how many jobs and workers use it, and
warns where answers will surprise: a certificate that jobs require and no worker holds (with the
certificates workers do hold that look like it), a job's own certificate beside a different one its
trade implies, trades that no worker lists, and codes the vocabulary does not know (and the rule that
then applies).
"""

from __future__ import annotations

import difflib
from collections import defaultdict

from gigmatch.core.contract import Market, Readings
from gigmatch.core.taxonomy import Taxonomy
from gigmatch.core.wording import plural, verb


def vocabulary_report(market: Market, readings: Readings) -> dict:
    """The report for a validated market and the readings collected while loading it.

    Returns
    -------
    dict with ``source`` (where the vocabulary comes from), ``trades`` and ``certificates`` (one entry
    per code seen, with ``read_as``, counts and the rule), and ``warnings`` (sentences).
    """
    tax = market.taxonomy
    read_as: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    for (vocab, _column, text, code, how), n in readings.items():
        entry = read_as[(vocab, code)].setdefault(text, {"text": text, "how": how, "count": 0})
        entry["count"] += n
    jobs, workers = market.jobs, market.workers

    trade_jobs = jobs["trade"].value_counts().to_dict()
    skill_workers = _count_lists(workers["skills"])
    pref_workers = _count_lists(workers["preferred_trades"])
    able = _able_workers(tax, workers)
    explicit = _count_lists(jobs["required_certificates"])
    implied: dict[str, int] = defaultdict(int)
    implied_by: dict[str, set[str]] = defaultdict(set)
    for trade, n in trade_jobs.items():
        for cert in tax.required_certificates(trade):
            implied[cert] += n
            implied_by[cert].add(trade)
    required = _jobs_requiring(tax, jobs)
    held = _count_lists(workers["certificates"])

    trade_codes = sorted(set(trade_jobs) | set(skill_workers) | set(pref_workers))
    trades = [
        {
            "code": code,
            "in_vocabulary": code in tax.trades,
            "read_as": sorted(read_as[("trade", code)].values(), key=lambda r: -r["count"]),
            "jobs": int(trade_jobs.get(code, 0)),
            "workers_with_skill": int(skill_workers.get(code, 0)),
            "workers_preferring": int(pref_workers.get(code, 0)),
            "rule": tax.describe_trade_rule(code),
        }
        for code in trade_codes
    ]
    cert_codes = sorted(set(required) | set(held))
    certificates = [
        {
            "code": code,
            "in_vocabulary": code in tax.certificates,
            "read_as": sorted(read_as[("certificate", code)].values(), key=lambda r: -r["count"]),
            "jobs_requiring": int(required.get(code, 0)),
            "implied_by_trades": sorted(implied_by.get(code, ())),
            "listed_by_jobs": int(explicit.get(code, 0)),
            "workers_holding": int(held.get(code, 0)),
        }
        for code in cert_codes
    ]
    warnings = _warnings(tax, trades, certificates, jobs, able, held, required)
    return {
        "source": "built-in taxonomy" if tax.is_built_in else f"the market's own tables ({tax.source})",
        "vocabulary": {"trades": len(tax.trades), "certificates": len(tax.certificates)},
        "trades": trades,
        "certificates": certificates,
        "warnings": warnings,
    }


def _count_lists(column) -> dict[str, int]:
    """Rows listing each code (a code counts once per row)."""
    counts: dict[str, int] = defaultdict(int)
    for codes in column:
        for c in set(codes):
            counts[c] += 1
    return counts


def _jobs_requiring(tax: Taxonomy, jobs) -> dict[str, int]:
    """Jobs that need each certificate: the trade's own plus the job's listed ones (once per job)."""
    counts: dict[str, int] = defaultdict(int)
    for trade, extra in zip(jobs["trade"], jobs["required_certificates"], strict=True):
        for c in {*tax.required_certificates(trade), *extra}:
            counts[c] += 1
    return counts


def _able_workers(tax: Taxonomy, workers) -> dict[str, int]:
    """Workers who could do each trade: the skill, or a skill related to it."""
    related_to: dict[str, set[str]] = defaultdict(set)
    for job_trade, skill, _ in tax.related_pairs():
        related_to[skill].add(job_trade)
    counts: dict[str, int] = defaultdict(int)
    for skills in workers["skills"]:
        can = set(skills)
        for s in skills:
            can |= related_to.get(s, set())
        for t in can:
            counts[t] += 1
    return counts


def _warnings(tax, trades, certificates, jobs, able, held, required) -> list[str]:
    out = []
    where = "built-in taxonomy" if tax.is_built_in else "market's vocabulary"
    held_unrequired = [c for c in held if c not in required]
    for cert in certificates:
        if not cert["jobs_requiring"]:
            continue
        why = []
        if cert["implied_by_trades"]:
            why.append(f"by trade {', '.join(cert['implied_by_trades'])} in the {where}")
        if cert["listed_by_jobs"]:
            why.append(f"listed by {plural(cert['listed_by_jobs'], 'job')} themselves")
        alike = _alike(tax, cert["code"], held_unrequired)
        if not cert["workers_holding"]:
            text = (
                f"certificate {cert['code']} is required by {plural(cert['jobs_requiring'], 'job')} "
                f"({'; '.join(why)}) and held by no worker: "
                + (
                    "that job cannot be filled"
                    if cert["jobs_requiring"] == 1
                    else "those jobs cannot be filled"
                )
            )
        elif alike:
            text = (
                f"certificate {cert['code']} is required by {plural(cert['jobs_requiring'], 'job')} "
                f"({'; '.join(why)}) and held by only {plural(cert['workers_holding'], 'worker')}"
            )
        else:
            continue
        if alike:
            text += (
                f"; workers hold {', '.join(f'{c} ({held[c]})' for c in alike)}, which no job requires: if it is "
                "the same certificate under another code, declare it in a certificates table (or as a synonym)"
            )
        out.append(text)
    pairs: dict[tuple[str, str], int] = defaultdict(int)
    for trade, extra in zip(jobs["trade"], jobs["required_certificates"], strict=True):
        own = tax.required_certificates(trade)
        for c in extra:
            if own and c not in own:
                pairs[(trade, c)] += 1
    for (trade, c), n in sorted(pairs.items()):
        own = ", ".join(tax.required_certificates(trade))
        out.append(
            f"{plural(n, 'job')} of trade {trade} {verb(n, 'lists', 'list')} certificate {c}, while the trade "
            f"already requires {own}: "
            "a worker needs both"
        )
    for t in trades:
        if t["jobs"] and not tax.open_to_all(t["code"]) and not able.get(t["code"], 0):
            out.append(
                f"trade {t['code']}: {plural(t['jobs'], 'job')}, but no worker lists it or a related trade: "
                + ("that job cannot be filled" if t["jobs"] == 1 else "those jobs cannot be filled")
            )
    for t in trades:
        if not t["in_vocabulary"] and t["jobs"]:
            out.append(f"trade {t['code']} ({plural(t['jobs'], 'job')}) is {t['rule']}")
    if not tax.is_built_in and (not tax.trades or not tax.certificates):
        missing = "trades" if not tax.trades else "certificates"
        out.append(
            f"the market declares its own vocabulary without a {missing} table: every {missing[:-1]} code "
            "is matched exactly, with no names, synonyms or rules"
        )
    return out


def _alike(tax: Taxonomy, code: str, candidates: list[str]) -> list[str]:
    """Codes among ``candidates`` that look like ``code`` or its names (a likely vocabulary mismatch)."""
    if not candidates:
        return []
    cert = tax.certificates.get(code)
    names = [code] + ([cert.name_zh, cert.name_en, *cert.synonyms] if cert else [])
    words = {w for n in names for w in str(n).lower().replace("-", "_").split("_") if len(w) >= 3}
    hits = []
    for c in candidates:
        parts = set(c.lower().replace("-", "_").split("_"))
        close = difflib.get_close_matches(c.lower(), [n.lower() for n in names], n=1, cutoff=0.6)
        if close or (words & parts):
            hits.append(c)
    return sorted(hits)


def format_report(market: Market, report: dict) -> str:
    """The report as text for a terminal."""
    lines = [
        f"market {market.source}: {len(market.workers)} workers, {len(market.jobs)} jobs, "
        f"{len(market.employers)} employers, {len(market.events)} events",
        f"vocabulary: {report['source']} ({report['vocabulary']['trades']} trades, "
        f"{report['vocabulary']['certificates']} certificates)",
        "",
        f"{'trade':<24}{'jobs':>7}{'skill':>8}{'wants':>8}  read as",
    ]
    for t in report["trades"]:
        lines.append(
            f"{_clip(t['code'], 23):<24}{t['jobs']:>7}{t['workers_with_skill']:>8}{t['workers_preferring']:>8}"
            f"  {_read_as(t)}"
        )
    lines += ["", f"{'certificate':<24}{'jobs':>7}{'held':>8}  read as"]
    for c in report["certificates"]:
        lines.append(
            f"{_clip(c['code'], 23):<24}{c['jobs_requiring']:>7}{c['workers_holding']:>8}  {_read_as(c)}"
        )
    lines.append("")
    if report["warnings"]:
        lines.append(f"{plural(len(report['warnings']), 'warning')}:")
        lines += [f"  - {w}" for w in report["warnings"]]
    else:
        lines.append("no warnings")
    return "\n".join(lines)


def _read_as(entry: dict) -> str:
    parts = []
    for r in entry["read_as"][:4]:
        label = "code" if r["how"] == "code" else f"{r['text']} ({r['how']})"
        if r["how"] == "code" and r["text"] != entry["code"]:
            label = f"{r['text']} (code)"
        parts.append(f"{label} x{r['count']}")
    more = len(entry["read_as"]) - 4
    text = ", ".join(parts) + (f", +{more} more" if more > 0 else "")
    if not entry["in_vocabulary"]:
        text = "UNKNOWN " + text
    return text


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
