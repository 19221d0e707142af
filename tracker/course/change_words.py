"""The latest judged change from baseline in words, as the follow-up lists show it beside each patient."""

from __future__ import annotations

from tracker.course.followup import latest_change
from tracker.course.milestones import Progress
from tracker.course.salt import score_text
from tracker.course.vocabulary import MilestoneStatus, milestone_short, site_words, status_words
from tracker.course.wording import card_figure, count


def latest_change_words(progress: Progress, judged_on_salt: bool = False) -> str:
    """The latest judged change from baseline, as the follow-up lists show it (``judged_on_salt``: the
    patient's protocol judges the SALT score, so the change is its % improvement, e.g. "SALT 18, 55%
    improvement, 6 months: on track").

    The figure is the one at the latest milestone any site was measured at; with several sites judged
    there, the least good of them (behind before on track before ahead, then the smaller % change: the one
    to discuss, and the one a "Behind expected" flag is about), saying how many sites were judged. E.g.
    "−20 hairs/cm² (−13%) at Vertex, 3 months: behind expected (weakest of 2 sites)". Without a judged
    change it says why: nothing measured yet, no baseline, or no milestone visit yet.
    """
    found = latest_change(progress)
    if found is None:
        if not progress.sites:
            return "Nothing measured yet"
        if all(site.baseline is None for site in progress.sites) or any(
                m.status == MilestoneStatus.NO_BASELINE for site in progress.sites for m in site.milestones):
            return "No baseline: the change cannot be judged"
        return "Not judged yet: no milestone visit"
    m = found.result
    if judged_on_salt:
        return (f"SALT {score_text(m.density or 0.0)}, {card_figure(m.change or 0.0, 0)}% improvement, "
                f"{milestone_short(m.name)}: {status_words(m.status).legend}")
    # True minus signs in the figures, as the milestone cards print them; a typed site keeps its hyphens.
    change = card_figure(m.change or 0.0, 0)
    percent = f" ({card_figure(m.change_pct, 0)}%)" if m.change_pct is not None else ""
    text = (f"{change} hairs/cm²{percent} at {site_words(found.site)}, {milestone_short(m.name)}: "
            f"{status_words(m.status).legend}")
    if found.sites_judged > 1:
        text += f" (weakest of {count(found.sites_judged, 'site')})"
    return text
