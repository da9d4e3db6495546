"""gigmatch: recommendation and matching for casual-labour (零工) markets.

The pipeline reads left to right: ``gigmatch.core.contract`` (market tables) -> ``features`` (pairwise
features and eligibility) -> ``models`` (learned ranker) -> ``matcher`` (retrieval and assignment)
-> ``service`` (HTTP API).
"""

__version__ = "0.1.0"
