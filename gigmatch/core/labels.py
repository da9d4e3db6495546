"""Every reason and outcome code the engine writes, with its Chinese and English label, in one table.

Machines read the codes (``certificate_missing``, ``outcompeted``, ``found_work_elsewhere``); people
read the labels. The answer loop's messages, the batch report and the loop page all look codes up
here, so a label is changed in one place. A code this table does not know is shown as itself
(:func:`zh` and :func:`en` never fail), so a new code degrades to the code, not to an error.

The codes come from: the hard constraints (:class:`features.eligibility.Reason`), the batch run's
unfilled-job and unmatched-worker reasons (:mod:`matcher.explain`), the answer loop's answer codes and
case outcomes (:mod:`service.loop`), and the summary fields of a batch run (:mod:`matcher.report`).
"""

from __future__ import annotations

# code -> (Chinese, English)
LABELS: dict[str, tuple[str, str]] = {
    # hard constraints (features.eligibility.Reason codes)
    "employer_blacklisted": ("雇主在欠薪黑名单上", "employer on the wage-arrears blacklist"),
    "certificate_missing": ("缺少所需证书", "a required certificate is missing"),
    "certificate_expired": ("证书在开工前过期", "a required certificate expires before the job starts"),
    "no_matching_skill": ("没有该工种的技能", "no skill in the trade or a related one"),
    "beyond_travel_limit": ("超出本人愿意通勤的距离", "farther than the worker will travel"),
    "beyond_radius": ("超出查找半径", "outside the search radius"),
    "unknown_worker": ("未登记的工人", "worker not stored"),
    "case_closed": ("求职登记已关闭", "the worker's case is closed"),
    # batch run: unfilled jobs (matcher.explain.unfilled_jobs)
    "no_worker_within_radius": ("附近没有工人", "nobody lives within the radius"),
    "certificate_nobody_nearby_holds": (
        "附近没有人持有所需证书",
        "nobody nearby holds the required certificate",
    ),
    "no_skilled_worker_nearby": ("附近没有会这个工种的人", "nobody nearby has the skill"),
    "beyond_workers_travel_limits": (
        "附近的人都不愿跑这么远",
        "all candidates live farther than they travel",
    ),
    "no_eligible_worker": ("附近没有符合条件的工人", "no candidate meets every requirement"),
    "below_min_score": ("匹配度低于最低分", "no candidate scores the minimum"),
    "too_few_eligible_workers": ("符合条件的工人不够", "too few eligible workers"),
    "eligible_workers_taken_by_better_matches": (
        "符合条件的工人被更合适的岗位选走",
        "eligible workers went to better matches",
    ),
    # batch run: unmatched workers (matcher.explain.unmatched_workers)
    "no_job_within_radius": ("附近没有岗位", "no job within the radius"),
    "jobs_need_certificate": ("附近岗位需要您没有的证书", "nearby jobs need a certificate"),
    "no_job_for_skills": ("附近没有您会做的工种", "no nearby job in the worker's trades"),
    "jobs_beyond_travel_limit": ("岗位超出您愿意通勤的距离", "jobs beyond the worker's travel limit"),
    "only_blacklisted_employers": ("附近只有欠薪黑名单雇主", "only blacklisted employers nearby"),
    "outcompeted": ("岗位已分给更合适的人", "slots went to better matches"),
    "capacity_zero": ("本次不接活", "capacity zero"),
    "no_eligible_job_nearby": (
        "附近岗位都有不止一项条件不符",
        "each nearby job fails more than one requirement",
    ),
    # answer loop: answer codes
    "jobs_found": ("为您找到合适的岗位", "jobs found"),
    "shortlist": ("已为岗位推荐合适的工人", "shortlist of workers"),
    "no_open_job_nearby": ("附近暂时没有在招的岗位", "no open job nearby"),
    "wage_below_workers_minimum": ("工资低于附近工人的最低要求", "wage below nearby workers' minimum"),
    "need_certificate": ("取得证书", "get a certificate"),
    "widen_travel_radius": ("扩大通勤距离", "travel farther"),
    "extend_availability": ("放宽可上工时间", "extend availability"),
    "raise_wage": ("提高日工资", "raise the daily wage"),
    "widen_radius": ("扩大招工范围", "widen the search radius"),
    "drop_certificate": ("放宽证书要求", "drop a certificate requirement"),
    # case outcomes and closing reasons
    "open": ("进行中", "open"),
    "hired": ("已录用", "hired"),
    "found_work_elsewhere": ("已在别处找到工作", "found work elsewhere"),
    "not_looking": ("暂不找工作", "not looking"),
    "unreachable": ("联系不上", "unreachable"),
    "other": ("其他", "other"),
    "deleted": ("已删除", "deleted"),
    "filled": ("已招满", "filled"),
    "started": ("已开工（未招满）", "started before it was filled"),
    "worker": ("工人", "worker"),
    "job": ("岗位", "job"),
    # batch summary fields (matcher.batch.run_batch summary)
    "jobs": ("岗位数", "jobs"),
    "workers": ("工人数", "workers"),
    "slots": ("招工人数", "slots"),
    "assigned": ("已分配", "assigned"),
    "fill_rate": ("招满率", "fill rate"),
    "mean_distance_km": ("平均距离（公里）", "mean distance (km)"),
    "unfilled_reasons": ("未招满原因", "unfilled jobs by reason"),  # counts jobs, not slots (#20)
    "unmatched_reasons": ("未分配原因", "unmatched workers by reason"),
    "scorer": ("评分模型", "scorer"),
    "objective": ("优化目标", "objective"),
    "max_km": ("查找半径（公里）", "radius (km)"),
    "total_score": ("总匹配分", "total score"),
    "candidate_pairs": ("候选配对数", "candidate pairs"),
    "eligible_pairs": ("符合条件的配对数", "eligible pairs"),
    "solver_seconds": ("求解用时（秒）", "solver seconds"),
    "candidate_rounds": ("候选轮数", "candidate rounds"),
    "total_seconds": ("总用时（秒）", "total seconds"),
    "model_version": ("模型版本", "model version"),
    "worker_capacity": ("每人最多岗位数", "jobs per worker"),
    "min_score": ("最低匹配分", "minimum score"),
    "workers_matched": ("已分配工人", "workers matched"),
    "workers_unmatched": ("未分配工人", "workers unmatched"),
}


def zh(code: str) -> str:
    """The Chinese label of ``code`` (the code itself when the table does not know it)."""
    return LABELS.get(str(code), (str(code), str(code)))[0]


def en(code: str) -> str:
    """The English label of ``code`` (the code itself when the table does not know it)."""
    return LABELS.get(str(code), (str(code), str(code)))[1]


def both(code: str) -> str:
    """``"中文 (English)"`` for a table cell or a log line."""
    return f"{zh(code)} ({en(code)})"
