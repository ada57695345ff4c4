"""The predictor: P(the cheaper tier passes this request), from what is known before the request is sent.

A logistic regression over the features of features.py, learned across task types with the task as a feature,
so small task types borrow words from large ones. scikit-learn fits it; scoring one request at serving time
uses sklearn's own analyzer (the same tokens and n-grams) and the fitted weights directly, because sklearn's
per-call validation costs milliseconds per request. The calibration scores with the same function the gate
serves with, so a proven threshold means exactly what `route` does.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .features import MAX_TERMS, MIN_DF, TEXT_OPTIONS, Known, Messages, facts_of, text_of

C = 1.0  # inverse regularisation strength of the logistic regression
FOLDS = 5  # cross-validation folds for the out-of-fold scores that plan the calibration


@dataclass(frozen=True)
class Predictor:
    """Fitted weights: per vocabulary term (idf, weight), per named fact a weight, and the intercept."""

    terms: Mapping[str, tuple[float, float]]
    facts: Mapping[str, float]
    intercept: float
    _analyze: Callable[[str], list[str]] = field(default_factory=lambda: _analyzer(), repr=False, compare=False)

    def score(self, messages: Messages, params: Mapping[str, Any] | None, task: str) -> float:
        """P(pass) of one request: sublinear, l2-normalised TF-IDF and the facts, through the logistic link."""
        text = text_of(messages)
        num = norm = 0.0
        for term, count in Counter(self._analyze(text)).items():
            weights = self.terms.get(term)
            if weights is not None:
                x = (1.0 + math.log(count)) * weights[0]
                num, norm = num + x * weights[1], norm + x * x
        margin = self.intercept + (num / math.sqrt(norm) if norm else 0.0)
        for name, value in facts_of(text, messages, params or {}, task).items():
            margin += value * self.facts.get(name, 0.0)
        return 1.0 / (1.0 + math.exp(-margin)) if margin > -700 else 0.0

    def scores(self, rows: Sequence[Known]) -> np.ndarray:
        return np.array([self.score(m, p, t) for m, p, t in rows], dtype=float)

    def to_json(self) -> dict[str, Any]:
        vocabulary = sorted(self.terms)
        return {"vocabulary": vocabulary, "idf": [self.terms[t][0] for t in vocabulary],
                "term_weights": [self.terms[t][1] for t in vocabulary],
                "facts": dict(sorted(self.facts.items())), "intercept": self.intercept}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Predictor:
        vocabulary, idf, weights = data["vocabulary"], data["idf"], data["term_weights"]
        terms = {str(t): (float(i), float(w)) for t, i, w in zip(vocabulary, idf, weights, strict=True)}
        return cls(terms, {str(k): float(v) for k, v in data["facts"].items()}, float(data["intercept"]))


def _analyzer() -> Callable[[str], list[str]]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(**TEXT_OPTIONS).build_analyzer()


def fit(rows: Sequence[Known], passed: Sequence[bool], seed: int = 0) -> tuple[Predictor, np.ndarray]:
    """Learn the predictor; also return each row's out-of-fold P(pass), an honest estimate of how the fitted
    predictor ranks requests it has not seen (the calibration plan is built on it)."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not rows or len(rows) != len(passed):
        raise ValueError(f"need one pass label per request, got {len(rows)} requests and {len(passed)} labels")
    y = np.asarray(passed, dtype=bool)
    texts = [text_of(m) for m, _, _ in rows]
    words = TfidfVectorizer(**TEXT_OPTIONS, min_df=MIN_DF if len(rows) > MIN_DF else 1, max_features=MAX_TERMS)
    try:
        x_text = words.fit_transform(texts)
    except ValueError:  # no term occurs often enough: the facts alone
        words, x_text = None, None
    named = DictVectorizer()
    x_facts = named.fit_transform([facts_of(s, m, p or {}, t) for s, (m, p, t) in zip(texts, rows, strict=True)])
    x = (hstack([x_text, x_facts]) if x_text is not None else x_facts).tocsr()
    coef, intercept, oof = _logistic(x, y, seed)
    n_text = x_text.shape[1] if x_text is not None else 0
    terms = {} if words is None else {
        str(term): (float(idf), float(w)) for term, idf, w in
        zip(words.get_feature_names_out(), words.idf_, coef[:n_text], strict=True)}
    facts = {str(name): float(w) for name, w in zip(named.get_feature_names_out(), coef[n_text:], strict=True)}
    return Predictor(terms, facts, intercept), oof


def _logistic(x: Any, y: np.ndarray, seed: int) -> tuple[np.ndarray, float, np.ndarray]:
    """Weights, intercept and out-of-fold P(pass); a constant model when one class is (almost) absent."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from threadpoolctl import threadpool_limits

    minority = int(min(y.sum(), (~y).sum()))
    if minority < 2:
        rate = min(max(float(y.mean()), 1e-3), 1 - 1e-3)
        return np.zeros(x.shape[1]), math.log(rate / (1 - rate)), np.full(len(y), rate)
    model = LogisticRegression(C=C, max_iter=5000)
    folds = StratifiedKFold(min(FOLDS, minority), shuffle=True, random_state=seed)
    with threadpool_limits(1):  # a small problem: BLAS threads only contend (25x slower on a busy 2-core box)
        oof = cross_val_predict(model, x, y, cv=folds, method="predict_proba")[:, 1]
        model.fit(x, y)
    return model.coef_[0].astype(float), float(model.intercept_[0]), oof
