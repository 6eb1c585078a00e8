"""The one cluster-assignment step shared by every cluster-based batch strategy (docs/design.md §2).

``cluster_count`` reads the number of modes, ``stratified`` the labels, ``weighted`` the distances
to the centres. All of them call :func:`assign_clusters` on features — raw-series features from
:func:`series_features`, or embeddings of a briefly pretrained encoder — so they agree on the modes.

Rules:

- **Features** (:func:`series_features`): every channel of every series is z-normalised over time
  (a constant channel becomes zeros), the series is flattened to ``C · T`` values, and PCA keeps at
  most ``max_dim`` components (fitted on a seeded subsample of at most ``max_fit`` series, applied
  to all). Distances in this space are Euclidean distances between z-normalised series, up to the
  discarded components.
- **Number of clusters.** ``n_clusters`` forces ``k``. Otherwise ``k`` runs over
  ``[k_min, min(k_max, n_fit - 1)]`` and is chosen on a seeded subsample of at most ``max_fit``
  points (``n_fit`` = the subsample size):

  - ``"kmeans_silhouette"``: k-means (``n_init=4``) for each ``k``; the highest mean silhouette
    (on a seeded sample of at most 2000 of the fitted points) wins (ties: the smaller ``k``).
  - ``"gmm_bic"``: the features are first projected on their top ``gmm_dim`` (8) principal
    directions (PCA on the subsample); a Gaussian mixture with **full** covariances is fitted for
    each ``k``, and for ``k = 1`` as the null model; the lowest BIC wins (ties: the smaller ``k``).
    Full covariances because a mode of real series is an elongated, tilted cloud (time shifts
    move it along a curve): diagonal or tied covariances split such a cloud into several
    components and BIC then overestimates ``k`` several-fold. The projection keeps the parameter
    count (``d(d+3)/2 + 1`` per component) within what BIC can judge on the few hundred series of
    a UCR data set (on 32 dimensions, full covariances underestimate ``k``). Modes whose means
    differ only outside the top ``gmm_dim`` directions merge.

  The chosen model then labels every point (nearest centre / highest posterior).
- **No structure → one cluster, with a warning.** When the data are degenerate (all feature rows
  identical), when the best silhouette is below ``min_silhouette``, or when BIC prefers ``k = 1``,
  the result is a single cluster (``n_modes == 1``, labels all 0, the centre the mean) and a
  warning says so: stratified batches are then plain random batches and ``cluster_count`` sees
  ``M = 1``. ``min_silhouette`` defaults to 0.1, not Kaufman & Rousseeuw's 0.25: on 32 PCA
  features of noisy series, pure noise scores about 0.03, while clearly separable modes
  (``make_synthetic(noise=1.0, separation=0.5)``, which ``gmm_bic`` counts right) score about
  0.23. Silhouette cannot recognise a single *low-dimensional* blob (a 2-D Gaussian scores about
  0.35); use ``"gmm_bic"`` when ``M = 1`` is a plausible answer.
- **Canonical labels.** Clusters are numbered by decreasing size (ties: the cluster holding the
  smaller first index comes first), so label 0 is the largest cluster and the labels depend only on
  the partition, not on the clustering library's numbering. A mixture component that labels no
  point is dropped (with a warning), so ``n_modes`` counts non-empty clusters.
- **Centres and distances.** A cluster's centre is the mean of the points it labels, in the input
  feature space (for both methods); distances are Euclidean, from each point to its own cluster's
  centre, in feature units.
- **Determinism.** The same inputs and ``seed`` give the same assignment.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score
from sklearn.mixture import GaussianMixture

from tune_bs.errors import UserInputError, quote, unknown_name

logger = logging.getLogger(__name__)

METHODS = ("kmeans_silhouette", "gmm_bic")


@dataclass(frozen=True, eq=False)  # eq=False: fields are arrays, compare them explicitly
class ClusterAssignment:
    """The result of one clustering step.

    Attributes:
        labels: int64 ``[N]``, cluster of each point, in ``[0, n_modes)``; 0 is the largest cluster.
        centres: float64 ``[n_modes, F]``, cluster centres in feature space.
        distances: float64 ``[N]``, Euclidean distance of each point to its own centre.
        n_modes: number of (non-empty) clusters.
        method: the criterion that chose ``n_modes`` (``"kmeans_silhouette"`` or ``"gmm_bic"``).
        scores: criterion value per candidate ``k`` (silhouette: higher is better; BIC: lower is
            better); empty when ``n_clusters`` forced ``k`` or the data were degenerate.
    """

    labels: np.ndarray
    centres: np.ndarray
    distances: np.ndarray
    n_modes: int
    method: str
    scores: dict[int, float] = field(default_factory=dict)

    @property
    def sizes(self) -> np.ndarray:
        """Points per cluster, int64 ``[n_modes]`` (non-increasing)."""
        return np.bincount(self.labels, minlength=self.n_modes)


def series_features(
    X: np.ndarray, max_dim: int = 32, seed: int = 0, max_fit: int = 10_000
) -> np.ndarray:
    """Raw-series features ``[N, F]`` (float32, ``F <= max_dim``) of series ``X`` ``[N, C, T]``.

    Per-channel z-normalisation over time, flattening, then PCA to ``F = min(max_dim, C·T, n_fit)``
    components fitted on a seeded subsample of ``n_fit = min(N, max_fit)`` series.
    """
    X = np.asarray(X)
    if X.ndim != 3:
        raise UserInputError(
            f"series must have shape [N, C, T], but got an array of shape {X.shape}; "
            "add the missing axes (e.g. X[:, None, :] for univariate series)."
        )
    if max_dim < 1 or max_fit < 1:
        raise UserInputError(
            f"series_features needs max_dim >= 1 and max_fit >= 1, but got max_dim={max_dim}, "
            f"max_fit={max_fit}; raise them."
        )
    if not np.isfinite(X).all():
        raise UserInputError(
            "series must be finite, but X contains NaN or inf values; impute or drop those series."
        )
    n = X.shape[0]
    Z = X.astype(np.float32, copy=True)
    Z -= Z.mean(axis=2, keepdims=True)
    std = Z.std(axis=2, keepdims=True)
    constant = std <= 1e-8
    Z /= np.where(constant, 1.0, std)
    Z *= ~constant  # a constant channel carries no shape: exactly zero
    Z = Z.reshape(n, -1)  # [N, C·T]

    fit_rows = _subsample(n, max_fit, seed)
    n_components = min(max_dim, Z.shape[1], fit_rows.size)
    pca = PCA(n_components=n_components, random_state=seed).fit(Z[fit_rows])
    return pca.transform(Z).astype(np.float32, copy=False)


def assign_clusters(
    features: np.ndarray,
    method: str = "kmeans_silhouette",
    k_min: int = 2,
    k_max: int = 10,
    seed: int = 0,
    n_clusters: int | None = None,
    max_fit: int = 5000,
    min_silhouette: float = 0.1,
    gmm_dim: int = 8,
) -> ClusterAssignment:
    """Cluster ``features`` ``[N, F]``; ``method`` chooses ``k`` unless ``n_clusters`` forces it.

    Args:
        features: ``[N, F]`` finite floats, one row per series (:func:`series_features` or
            embeddings).
        method: ``"kmeans_silhouette"`` or ``"gmm_bic"``.
        k_min, k_max: candidate numbers of clusters, ``2 <= k_min <= k_max``; ``k_max`` is capped
            at the number of fitted points minus one.
        seed: seeds the subsample, k-means / mixture initialisation and the silhouette sample.
        n_clusters: force this ``k`` (``1 <= n_clusters <= N``) instead of choosing it.
        max_fit: most points the models are fitted on (a seeded subsample); all are labelled.
        min_silhouette: below this best silhouette, the data count as one cluster.
        gmm_dim: principal directions kept for ``"gmm_bic"``.

    See the module docstring for the rules. Raises :class:`UserInputError` for an unknown method, a
    bad ``k`` range, too few points, or non-finite features.
    """
    if method not in METHODS:
        raise unknown_name("clustering.method", method, METHODS)
    F = _check_features(features)
    n = F.shape[0]
    _check_sizes(max_fit, gmm_dim)
    fit_rows = _subsample(n, max_fit, seed)
    k_hi = _checked_k_range(n, fit_rows.size, n_clusters, k_min, k_max)

    if _degenerate(F):
        logger.warning(
            "all %d feature rows are identical: the data have no cluster structure; using one "
            "cluster (stratified batches become random batches, cluster_count sees M=1).",
            n,
        )
        return _single_cluster(F, method, {})
    if n_clusters == 1:
        return _single_cluster(F, method, {})

    G = _fitting_space(F, method, gmm_dim, fit_rows, seed)
    G_fit = G[fit_rows]

    if n_clusters is not None:
        model = _fit(method, G_fit, int(n_clusters), seed)
        return _finish(F, model.predict(G), int(n_clusters), method, {})

    scores, models = _score_ks(method, G_fit, k_min, k_hi, seed)
    best = _best_k(method, scores, min_silhouette)
    if best is None:
        return _single_cluster(F, method, scores)
    return _finish(F, models[best].predict(G), best, method, scores)


def _check_sizes(max_fit: int, gmm_dim: int) -> None:
    """One-line errors for a ``max_fit`` below 2 or a ``gmm_dim`` below 1 (or not integers)."""
    for name, value, low in (("max_fit", max_fit, 2), ("gmm_dim", gmm_dim, 1)):
        if not _is_int(value) or value < low:
            raise UserInputError(
                f"clustering.{name} must be an integer >= {low}, but got {name}={quote(value)}; "
                "raise it."
            )


def _checked_k_range(
    n: int, n_fit: int, n_clusters: int | None, k_min: int, k_max: int
) -> int | None:
    """The largest candidate ``k`` (``k_max`` capped at ``n_fit − 1``), ``None`` when
    ``n_clusters`` forces ``k``; one-line errors for a forced ``k`` outside ``[1, n]`` or a bad
    range."""
    if n_clusters is not None:
        if not _is_int(n_clusters) or not 1 <= n_clusters <= n:
            raise UserInputError(
                f"clustering.n_clusters must be an integer between 1 and the number of points "
                f"({n}), but got n_clusters={quote(n_clusters)}; choose one in that range or leave "
                "it unset."
            )
        return None
    k_hi = min(k_max, n_fit - 1) if _is_int(k_max) else -1
    if not _is_int(k_min) or k_min < 2 or k_hi < k_min:
        raise UserInputError(
            f"clustering needs integers 2 <= k_min <= k_max <= (points used - 1) = "
            f"{n_fit - 1}, but got k_min={quote(k_min)}, k_max={quote(k_max)}; widen the range, "
            "use more data, or set n_clusters."
        )
    return k_hi


def _fitting_space(
    F: np.ndarray, method: str, gmm_dim: int, fit_rows: np.ndarray, seed: int
) -> np.ndarray:
    """The space the models are fitted in: the features, or (``gmm_bic``) their top principal
    directions scaled to unit overall spread (so ``reg_covar`` means the same at any feature
    scale)."""
    if method != "gmm_bic":
        return F
    dim = min(gmm_dim, F.shape[1], fit_rows.size)
    G = PCA(n_components=dim, random_state=seed).fit(F[fit_rows]).transform(F)
    G /= G[fit_rows].std()
    return G


def _score_ks(
    method: str, G_fit: np.ndarray, k_min: int, k_hi: int, seed: int
) -> tuple[dict[int, float], dict[int, KMeans | GaussianMixture]]:
    """Each candidate ``k``'s fitted model and score: its silhouette (``kmeans_silhouette``; −1
    when fewer than 2 labels are used) or BIC (``gmm_bic``, with ``k = 1`` scored too)."""
    scores: dict[int, float] = {}
    models: dict[int, KMeans | GaussianMixture] = {}
    if method == "gmm_bic":
        scores[1] = float(_fit(method, G_fit, 1, seed).bic(G_fit))
    for k in range(k_min, k_hi + 1):
        model = _fit(method, G_fit, k, seed)
        models[k] = model
        if method == "kmeans_silhouette":
            labels = model.labels_
            # fewer distinct labels than 2 cannot be scored: treat as no structure at this k
            ok = np.unique(labels).size >= 2
            scores[k] = _silhouette(G_fit, labels, seed) if ok else -1.0
        else:
            scores[k] = float(model.bic(G_fit))
    return scores, models


def _best_k(method: str, scores: dict[int, float], min_silhouette: float) -> int | None:
    """The chosen ``k`` (highest silhouette, ties: smaller ``k``; or lowest BIC), ``None`` (with
    a warning) when the data count as one cluster."""
    if method == "kmeans_silhouette":
        best = max(scores, key=lambda k: (scores[k], -k))
        if scores[best] < min_silhouette:
            logger.warning(
                "the best silhouette is %.3f (k=%d), below %.2f: no substantial cluster "
                "structure; using one cluster (stratified batches become random batches, "
                "cluster_count sees M=1).",
                scores[best],
                best,
                min_silhouette,
            )
            return None
        return best
    best = min(scores, key=lambda k: (scores[k], k))
    if best == 1:
        logger.warning(
            "BIC prefers a single Gaussian component (k=1): no cluster structure; using one "
            "cluster (stratified batches become random batches, cluster_count sees M=1)."
        )
        return None
    return best


def canonical_labels(labels: np.ndarray) -> np.ndarray:
    """Renumber ``labels`` by decreasing cluster size (ties: smaller first index first), 0-based.

    The result depends only on the partition: permuting the label values gives the same output.
    """
    labels = np.asarray(labels)
    _, first, inverse, counts = np.unique(
        labels, return_index=True, return_inverse=True, return_counts=True
    )
    order = np.lexsort((first, -counts))  # old cluster ids in canonical order
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[inverse.reshape(-1)].astype(np.int64)


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _silhouette(G: np.ndarray, labels: np.ndarray, seed: int) -> float:
    """Mean silhouette, on a seeded sample of at most 2000 points (the score is O(n²))."""
    size = min(G.shape[0], 2000)
    return float(silhouette_score(G, labels, sample_size=size, random_state=seed))


def _check_features(features: np.ndarray) -> np.ndarray:
    F = np.asarray(features, dtype=np.float64)
    if F.ndim != 2 or F.shape[0] < 2:
        raise UserInputError(
            f"clustering features must have shape [N, F] with N >= 2, but got shape "
            f"{np.shape(features)}; pass one feature row per series (e.g. from series_features)."
        )
    if not np.isfinite(F).all():
        raise UserInputError(
            "clustering features must be finite, but they contain NaN or inf values; "
            "check the data or the encoder that produced them."
        )
    return F


def _subsample(n: int, max_fit: int, seed: int) -> np.ndarray:
    """Sorted row indices of a seeded subsample of at most ``max_fit`` of ``n`` rows."""
    if n <= max_fit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_fit, replace=False))


def _degenerate(F: np.ndarray) -> bool:
    """True when all rows are identical up to float round-off."""
    spread = np.ptp(F, axis=0).max()
    scale = max(np.abs(F).max(), 1.0)
    return bool(spread <= 1e-9 * scale)


def _fit(method: str, G: np.ndarray, k: int, seed: int) -> KMeans | GaussianMixture:
    if method == "kmeans_silhouette":
        return KMeans(n_clusters=k, n_init=4, random_state=seed).fit(G)
    return GaussianMixture(
        n_components=k, covariance_type="full", n_init=2, random_state=seed, reg_covar=1e-6
    ).fit(G)


def _finish(
    F: np.ndarray, raw: np.ndarray, k: int, method: str, scores: dict[int, float]
) -> ClusterAssignment:
    """Renumber the ``k``-cluster labels ``raw`` canonically; centres and distances in F space."""
    labels = canonical_labels(raw)
    n_modes = int(labels.max()) + 1
    if n_modes < k:
        logger.warning(
            "%d of %d fitted clusters label no point; continuing with %d clusters.",
            k - n_modes,
            k,
            n_modes,
        )
    counts = np.bincount(labels, minlength=n_modes).astype(np.float64)
    centres = np.zeros((n_modes, F.shape[1]))
    np.add.at(centres, labels, F)
    centres /= counts[:, None]
    distances = np.linalg.norm(F - centres[labels], axis=1)
    return ClusterAssignment(labels, centres, distances, n_modes, method, scores)


def _single_cluster(F: np.ndarray, method: str, scores: dict[int, float]) -> ClusterAssignment:
    centre = F.mean(axis=0, keepdims=True)
    distances = np.linalg.norm(F - centre, axis=1)
    labels = np.zeros(F.shape[0], dtype=np.int64)
    return ClusterAssignment(labels, centre, distances, 1, method, scores)
