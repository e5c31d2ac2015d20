"""KMeans on standardised Total_Bill_Size: what the labels mean, not raw numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import customers_with_spend
from segmentation import columns as c
from segmentation.analysis.cluster import (
    FEW_CUSTOMERS,
    FEW_OF_THE_CUSTOMERS,
    cluster_customers,
    small_clusters,
    summarise_clusters,
)
from segmentation.analysis.segments import segment_names
from segmentation.errors import InvoiceDataError

# Three obvious groups, listed high-low-mid so file order cannot give the numbering.
SPEND = [5000.0, 5100.0, 10.0, 12.0, 11.0, 500.0, 520.0, 510.0, 0.0, -20.0]


def test_labels_are_ordered_by_centroid_and_named():
    result = cluster_customers(customers_with_spend(SPEND))
    assert result.labels.tolist()[:8] == [2, 2, 0, 0, 0, 1, 1, 1]
    assert result.segments.tolist()[:8] == ["High spend"] * 2 + ["Low spend"] * 3 + ["Mid spend"] * 3
    assert result.centroids[c.TOTAL_BILL_SIZE].is_monotonic_increasing
    assert result.centroids[c.TOTAL_BILL_SIZE].tolist() == pytest.approx([11.0, 510.0, 5050.0])


def test_non_positive_spend_is_kept_but_not_clustered():
    result = cluster_customers(customers_with_spend(SPEND))
    assert result.labels.index.equals(customers_with_spend(SPEND).index)
    assert result.labels.iloc[8:].isna().all()
    assert result.segments.iloc[8:].isna().all()
    assert result.n_not_clustered == 2


def test_every_parameter_is_explicit():
    model = cluster_customers(customers_with_spend(SPEND)).model
    assert (model.n_clusters, model.n_init, model.random_state) == (3, 10, 0)


def test_same_input_gives_the_same_labels():
    rng = np.random.default_rng(1)
    customers = customers_with_spend(list(rng.lognormal(6, 1.5, size=400)))
    first = cluster_customers(customers)
    second = cluster_customers(customers)
    pd.testing.assert_series_equal(first.labels, second.labels)


def test_labels_do_not_depend_on_row_order():
    rng = np.random.default_rng(2)
    customers = customers_with_spend(list(rng.lognormal(6, 1.5, size=400)))
    shuffled = customers.sample(frac=1.0, random_state=3)
    pd.testing.assert_series_equal(
        cluster_customers(shuffled).labels.sort_index(), cluster_customers(customers).labels
    )


def test_fewer_customers_than_clusters_is_a_clear_error():
    with pytest.raises(InvoiceDataError, match="only 2 customer.*3 clusters.*--k"):
        cluster_customers(customers_with_spend([10.0, 20.0]))


def test_fewer_distinct_values_than_clusters_is_a_clear_error():
    with pytest.raises(InvoiceDataError, match="only 1 distinct value"):
        cluster_customers(customers_with_spend([10.0, 10.0, 10.0, 10.0]))


def test_other_k_gets_ordered_names():
    assert segment_names(2) == ("Low spend", "High spend")
    assert segment_names(4)[0] == "Spend level 1 of 4"
    result = cluster_customers(customers_with_spend(SPEND), k=2)
    assert set(result.labels.dropna()) == {0, 1}


def test_summary_counts_customers_and_spend_ranges():
    customers = customers_with_spend(SPEND)
    summary = summarise_clusters(customers, cluster_customers(customers))
    assert summary["customers"].tolist() == [3, 3, 2]
    assert summary["min_" + c.TOTAL_BILL_SIZE].tolist() == [10.0, 500.0, 5000.0]
    assert summary["max_" + c.TOTAL_BILL_SIZE].tolist() == [12.0, 520.0, 5100.0]
    assert summary["share_of_spend"].sum() == pytest.approx(1.0)
    # 10 + 12 + 11 = 33 of 11663 clustered spend
    assert summary.loc[0, "share_of_spend"] == pytest.approx(33 / 11663)


def test_above_the_stated_size_minibatch_kmeans_is_used_with_the_same_ordering(monkeypatch):
    from sklearn.cluster import MiniBatchKMeans

    from segmentation import config

    monkeypatch.setattr(config, "MINIBATCH_ABOVE", 5)
    result = cluster_customers(customers_with_spend(SPEND))
    assert isinstance(result.model, MiniBatchKMeans)
    assert (result.model.n_init, result.model.random_state) == (config.N_INIT, config.RANDOM_STATE)
    assert result.labels.tolist()[:8] == [2, 2, 0, 0, 0, 1, 1, 1]


def test_a_cluster_is_small_under_the_stated_share_or_number_of_customers_worked_by_hand():
    clusters = pd.DataFrame({c.CUSTOMERS: [5_000, 40, 9, 10], c.SHARE_OF_CUSTOMERS: [0.99, 0.008, 0.3, 0.3]},
                            index=pd.Index([0, 1, 2, 3], name=c.CLUSTER))
    small = small_clusters(clusters)
    assert small.to_dict() == {1: FEW_OF_THE_CUSTOMERS, 2: FEW_CUSTOMERS}
