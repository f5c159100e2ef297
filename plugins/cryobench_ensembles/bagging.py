"""Bagging and UnderBagging: scikit-learn's and imbalanced-learn's bagging draw the bags
and drive any cryobench model through a small estimator adapter over particle indices.

Their bootstrap, seeding and sampler handling are well tested, so none of that is
written here. The members' probabilities are averaged (a soft vote) by
:class:`~cryobench_ensembles.members.WeightedVote` from the members' own predictors, so
that each member's figures can be reported too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from cryobench.api import FitContext, Model, Subtomograms
from cryobench_ensembles.members import WeightedVote, member_context


class Job:
    """What every member shares: the model, the data, the trial's context. scikit-learn
    clones estimators with their parameters, deep-copying them; a job is shared instead
    (it holds whole data sets)."""

    def __init__(self, model: Model, train: Subtomograms, val: Subtomograms,
                 context: FitContext, count: int, share_stage1: bool) -> None:
        self.model, self.train, self.val, self.context = model, train, val, context
        self.count, self.share_stage1, self.fitted = count, share_stage1, 0

    def __deepcopy__(self, memo: dict[int, Any]) -> Job:
        return self

    def fit_member(self, indices: np.ndarray, seed: int):
        bag = self.train.take(indices)
        # not shared: the member learns the model's earlier stage from its own bag, seeded
        # as itself
        changes = {} if self.share_stage1 else {"unsampled_train": bag, "shared_seed": None}
        context = member_context(self.context, self.fitted, self.count, seed=seed, **changes)
        self.fitted += 1
        return self.model.fit(bag, self.val, context)


class MemberEstimator(ClassifierMixin, BaseEstimator):
    """A cryobench model as a scikit-learn estimator whose rows are particle indices of
    the training split.

    ``fit`` takes no ``sample_weight``, so bagging draws each bag by indexing rows (a
    bag of particles) rather than by zero weights on particles a CNN would still see.
    The ensemble's own prediction is on volumes, through the members' predictors.
    """

    def __init__(self, job: Job | None = None, random_state: int | None = None) -> None:
        self.job = job
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> MemberEstimator:
        assert self.job is not None
        self.classes_ = np.arange(self.job.context.num_classes)
        seed = int(self.random_state or 0) % 2**32
        self.predictor_ = self.job.fit_member(np.asarray(X[:, 0], dtype=np.int64), seed)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        assert self.job is not None
        volumes = self.job.train.volumes[np.asarray(X[:, 0], dtype=np.int64)]
        return np.asarray(self.predictor_.predict_proba(volumes))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_proba(X).argmax(1)


def fit_bagging(model: Model, train: Subtomograms, val: Subtomograms, context: FitContext,
                *, members: int, balanced: bool, share_stage1: bool) -> WeightedVote:
    """Fit ``members`` bootstrap replicas of ``train`` (class-balanced bags when
    ``balanced``) and return their soft vote."""
    job = Job(model, train, val, context, members, share_stage1)
    estimator = MemberEstimator(job)
    if balanced:
        from imblearn.ensemble import BalancedBaggingClassifier

        bagging = BalancedBaggingClassifier(estimator=estimator, n_estimators=members,
                                            bootstrap=True, random_state=context.seed,
                                            n_jobs=1)
    else:
        from sklearn.ensemble import BaggingClassifier

        bagging = BaggingClassifier(estimator=estimator, n_estimators=members,
                                    max_samples=1.0, bootstrap=True,
                                    random_state=context.seed, n_jobs=1)
    bagging.fit(np.arange(len(train))[:, None], train.labels)
    fitted = [_member(e) for e in bagging.estimators_]
    sizes = [len(s) for s in bagging.estimators_samples_]
    return WeightedVote([m.predictor_ for m in fitted], np.ones(members),
                        {"members": members, "bag_sizes": sizes})


def _member(estimator: Any) -> MemberEstimator:
    """The adapter inside what the bagging kept (imbalanced-learn wraps it in a pipeline
    with its sampler)."""
    return estimator[-1] if hasattr(estimator, "steps") else estimator
