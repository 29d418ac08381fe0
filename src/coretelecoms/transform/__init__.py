"""Silver transform: DataCleaner (values), DataQualityChecker (rules), Transformer (workflow)."""

from __future__ import annotations

from coretelecoms.transform.batch import SourceVersion, TransformedBatch
from coretelecoms.transform.cleaner import DataCleaner
from coretelecoms.transform.quality import CheckResult, DataQualityChecker
from coretelecoms.transform.transformer import ContractError, Transformer, TransformSummary

__all__ = [
    "CheckResult",
    "ContractError",
    "DataCleaner",
    "DataQualityChecker",
    "SourceVersion",
    "TransformSummary",
    "TransformedBatch",
    "Transformer",
]
