"""GET /v1/taxonomy: the market's vocabulary of trades and certificates."""

from __future__ import annotations

import math

from fastapi import APIRouter

from service.deps import BackendAuth, StateDep
from service.schemas import ERROR_RESPONSES, TaxonomyResponse

router = APIRouter(prefix="/v1", tags=["taxonomy"], dependencies=[BackendAuth], responses=ERROR_RESPONSES)


@router.get("/taxonomy", response_model=TaxonomyResponse, summary="The market's trades and certificates")
def get_taxonomy(state: StateDep) -> dict:
    """The vocabulary trade and certificate codes are read with: the market's own, or the built-in one.

    Every trade with its names, synonyms, required certificates, related-trade credit and typical
    daily wage (yuan), and every certificate with its names and synonyms. Requests may use a code, a
    name or a synonym; ``fingerprint`` changes whenever the vocabulary does.
    """
    tax = state.store.snapshot().taxonomy
    return {
        "source": "built-in" if tax.is_built_in else "market",
        "fingerprint": tax.fingerprint(),
        "trades": [
            {
                "code": t.code,
                "name_zh": t.name_zh,
                "name_en": t.name_en,
                "synonyms": list(t.synonyms),
                "skill_required": t.skill_required,
                "required_certificates": list(t.required_certificates),
                "related": dict(t.related),
                "typical_daily_wage": None if math.isnan(t.typical_daily_wage) else t.typical_daily_wage,
            }
            for t in tax.trades.values()
        ],
        "certificates": [
            {"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en, "synonyms": list(c.synonyms)}
            for c in tax.certificates.values()
        ],
    }
