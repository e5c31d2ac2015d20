"""The fast silhouettes and the one-thread KMeans give scikit-learn's numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from segmentation import config
from segmentation.analysis import diagnostics
from segmentation.analysis.cluster import fit_kmeans, scale_features
from segmentation.reading.load import load_invoices
from segmentation.rules.clean import clean_invoices
from segmentation.rules.features import build_customer_features

TOLERANCE = 1e-12


def random_labelled(seed: int, n: int, d: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` heavy-tailed points in ``d`` dimensions and random labels 0 … k-1, every label present."""
    rng = np.random.default_rng(seed)
    points = rng.lognormal(sigma=1.5, size=(n, d))
    labels = np.concatenate([np.arange(k), rng.integers(0, k, size=n - k)])
    return points, rng.permutation(labels)


@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize(("n", "k"), [(3, 2), (50, 2), (400, 7), (1200, 10)])
def test_silhouette_equals_scikit_learns_on_random_data(n, k, d):
    points, labels = random_labelled(n * k + d, n, d, k)
    assert diagnostics.silhouette(points, labels) == pytest.approx(silhouette_score(points, labels), abs=TOLERANCE)


@pytest.mark.parametrize("d", [1, 2])
def test_above_the_sample_size_the_same_seeded_sample_is_scored(d):
    points, labels = random_labelled(7, 900, d, 4)
    expected = silhouette_score(points, labels, sample_size=300, random_state=3)
    assert diagnostics.silhouette(points, labels, sample_size=300, random_state=3) == pytest.approx(
        expected, abs=TOLERANCE)


@pytest.mark.parametrize("d", [1, 3])
def test_ties_singletons_and_gaps_in_the_labels_score_as_scikit_learn_does(d):
    points = np.repeat(np.array([[0.0], [1.0], [1.0], [5.0], [5.0], [5.0], [9.0]]), d, axis=1)
    labels = np.array([3, 3, 3, 7, 7, 7, 11])  # 11 is a singleton; codes are not 0 … m-1
    assert diagnostics.silhouette(points, labels) == pytest.approx(silhouette_score(points, labels), abs=TOLERANCE)


@pytest.mark.parametrize("labels", [[0, 0, 0, 0], [0, 1, 2, 3]])
def test_one_label_or_one_per_point_is_refused_as_scikit_learn_does(labels):
    points = np.arange(4.0).reshape(-1, 1)
    with pytest.raises(ValueError, match="Number of labels"):
        silhouette_score(points, labels)
    with pytest.raises(ValueError, match="Number of labels"):
        diagnostics.silhouette(points, np.array(labels))


def test_several_labellings_at_once_score_each_as_alone():
    points, _ = random_labelled(11, 300, 3, 2)
    labellings = [KMeans(k, n_init=1, random_state=0).fit(points).labels_ for k in (2, 3, 5)]
    together = diagnostics.silhouettes(points, labellings)
    assert together == pytest.approx([silhouette_score(points, labels) for labels in labellings], abs=TOLERANCE)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(
    values=st.lists(st.floats(min_value=-1e3, max_value=1e3, allow_nan=False).map(lambda x: round(x, 3)),
                    min_size=3, max_size=60),
    k=st.integers(min_value=2, max_value=5),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_one_feature_silhouette_from_prefix_sums_equals_the_pairwise_one(values, k, seed):
    points = np.array(values).reshape(-1, 1)
    labels = np.random.default_rng(seed).integers(0, k, size=len(points))
    if not 2 <= len(np.unique(labels)) <= len(points) - 1:
        return
    expected = silhouette_score(points, labels)
    assert diagnostics.silhouette(points, labels) == pytest.approx(expected, abs=1e-9, rel=1e-9)


@pytest.fixture(scope="module")
def real_customers() -> pd.DataFrame:
    if not config.REAL_DATA_PATH.is_file():
        pytest.skip("the bundled real data is not here")
    return build_customer_features(clean_invoices(load_invoices(config.REAL_DATA_PATH)).invoices)


@pytest.mark.parametrize("scaling", list(diagnostics.SCALINGS))
def test_on_the_real_data_silhouettes_and_kmeans_are_scikit_learns(real_customers, scaling):
    features, log = diagnostics.SCALINGS[scaling]
    _, scaled, _ = scale_features(real_customers, features=features, log=log)
    for k in (2, 5, 10):
        one_thread = fit_kmeans(scaled, k)
        default = KMeans(n_clusters=k, n_init=config.N_INIT, random_state=config.RANDOM_STATE).fit(scaled)
        np.testing.assert_array_equal(one_thread.labels_, default.labels_)
        np.testing.assert_allclose(one_thread.cluster_centers_, default.cluster_centers_, rtol=0, atol=1e-12)
        assert diagnostics.silhouette(scaled, one_thread.labels_) == pytest.approx(
            silhouette_score(scaled, default.labels_), abs=TOLERANCE)
