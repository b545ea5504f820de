"""Built-in metrics: the :class:`~lego_core.metrics.base.Metric` contract and its implementations.

``base`` defines the contract, ``segments`` the sort-once grouped helpers,
``ranking`` the ranking metrics (auc, gauc, mrr, mind_mrr, ndcg@k, hit@k,
recall@k, precision@k, lrap) and ``classification`` the probability metrics
(logloss, f1). ``BUILTIN_METRICS`` lists the classes the core plugin registers.
"""

from lego_core.metrics.classification import F1Metric, LogLossMetric
from lego_core.metrics.ranking import (
    AUCMetric,
    GAUCMetric,
    HitRatioMetric,
    LRAPMetric,
    MindMRRMetric,
    MRRMetric,
    NDCGMetric,
    PrecisionMetric,
    RecallMetric,
)

BUILTIN_METRICS = (
    AUCMetric,
    GAUCMetric,
    MRRMetric,
    MindMRRMetric,
    NDCGMetric,
    HitRatioMetric,
    RecallMetric,
    PrecisionMetric,
    LRAPMetric,
    LogLossMetric,
    F1Metric,
)
