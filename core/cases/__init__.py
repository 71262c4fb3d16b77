"""Cases: the service catalogue and the pipeline that carries each demand through."""

from community365.cases.catalogue import CORE_SERVICES, Catalogue, build_catalogue
from community365.cases.intake import DraftRejected
from community365.cases.pipeline import RATING_LEVELS, Pipeline, Submitted

__all__ = [
    "CORE_SERVICES",
    "RATING_LEVELS",
    "Catalogue",
    "DraftRejected",
    "Pipeline",
    "Submitted",
    "build_catalogue",
]
