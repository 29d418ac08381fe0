"""At-risk customers: which customers will have an escalated complaint next month.

``dataset`` builds the time-split training panel from ``customer_features_monthly``, ``model``
fits and evaluates the classifier against the baselines, ``store`` reads features and writes
``customer_risk_scores``, ``training`` holds the train / score / explain actions the CLI and the
DAG call. See docs/risk.md.
"""

from coretelecoms.risk.store import RiskError
from coretelecoms.risk.training import explain, score, train, train_and_score

__all__ = ["RiskError", "explain", "score", "train", "train_and_score"]
