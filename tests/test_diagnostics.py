"""Choosing k, log scaling and stability, on small tables whose answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import customers_with_spend
from segmentation import columns as c
from segmentation import config
from segmentation.analysis import diagnostics
from segmentation.analysis.cluster import cluster_customers, fit_kmeans, scale_features
from segmentation.presentation import findings


def heavy_tailed_customers(n: int = 300, seed: int = 5) -> pd.DataFrame:
    """Lognormal spend with a few customers a hundred times the rest: the shape of real spend."""
    rng = np.random.default_rng(seed)
    spend = list(rng.lognormal(6, 1.2, size=n - 3)) + [60_000.0, 80_000.0, 120_000.0]
    return customers_with_spend(spend)


def test_scan_has_a_row_per_k_and_inertia_falls():
    scan = diagnostics.scan_k(heavy_tailed_customers(), log=True)
    assert scan.index.tolist() == list(range(2, 11))
    assert list(scan.columns) == [c.INERTIA, c.SILHOUETTE]
    assert scan[c.INERTIA].is_monotonic_decreasing


def test_scan_of_three_tight_far_apart_groups_peaks_near_one_at_three():
    spend = [100.0 + i for i in range(10)] + [10_000.0 + i for i in range(10)] + [50_000.0 + i for i in range(10)]
    scan = diagnostics.scan_k(customers_with_spend(spend), k_values=range(2, 6))
    assert diagnostics.best_silhouette_k(scan) == 3
    assert scan.loc[3, c.SILHOUETTE] > 0.95


def test_silhouette_uses_a_seeded_sample_above_the_stated_size():
    rng = np.random.default_rng(0)
    scaled = rng.normal(size=(60, 2))
    labels = (scaled[:, 0] > 0).astype(int)
    full = diagnostics.silhouette(scaled, labels, sample_size=100)
    assert diagnostics.silhouette(scaled, labels, sample_size=60) == full  # not above: every row
    sampled = diagnostics.silhouette(scaled, labels, sample_size=30, random_state=1)
    assert sampled == diagnostics.silhouette(scaled, labels, sample_size=30, random_state=1)
    assert sampled != full


def test_above_the_sample_size_the_scan_clusters_a_seeded_sample_of_the_customers():
    customers = heavy_tailed_customers()
    assert diagnostics.scan_sample(customers, features=c.SEED_CLUSTER_FEATURES, sample_size=300) is None
    assert diagnostics.scan_sample(customers, features=c.SEED_CLUSTER_FEATURES, sample_size=120) == 120
    every = diagnostics.scan_k(customers, k_values=range(2, 5), sample_size=300)
    pd.testing.assert_frame_equal(every, diagnostics.scan_k(customers, k_values=range(2, 5)))  # not above: all
    _, scaled, _ = scale_features(customers, features=c.SEED_CLUSTER_FEATURES)
    sample = scaled[np.random.RandomState(config.RANDOM_STATE).permutation(len(scaled))[:120]]  # scaled as all are
    sampled = diagnostics.scan_k(customers, k_values=range(2, 5), sample_size=120)
    assert sampled[c.INERTIA].tolist() == [fit_kmeans(sample, k).inertia_ for k in range(2, 5)]
    assert "seeded sample of 120 customers" in diagnostics.choose_k(sampled, sample=120).reason
    assert "sample" not in diagnostics.choose_k(every).reason
    chosen = diagnostics.choose_k(sampled, sample=120)
    words = findings.describe_k_choice({"spend": sampled}, diagnostics.summarise_scans({"spend": sampled}),
                                       chosen="spend", k=chosen.k, choice=chosen)
    assert words.endswith("The scan clustered a seeded sample of the customers; the segmentation is fitted on all "
                          "of them.")
    assert "sample" not in findings.describe_k_choice({"spend": every}, diagnostics.summarise_scans({"spend": every}),
                                                      chosen="spend", k=2, choice=diagnostics.choose_k(every))


def test_elbow_of_a_hand_made_curve():
    # inertia halves twice, then barely moves: the elbow is k = 4
    scan = pd.DataFrame({c.INERTIA: [1000, 500, 250, 220, 200, 185, 175, 168, 163],
                         c.SILHOUETTE: [0.3, 0.5, 0.7, 0.6, 0.5, 0.4, 0.4, 0.3, 0.3]},
                        index=pd.Index(range(2, 11), name=c.K))
    assert diagnostics.elbow_k(scan) == 4
    assert diagnostics.best_silhouette_k(scan) == 4


def test_straight_line_has_no_elbow_and_the_rule_falls_back_to_the_silhouette():
    scan = pd.DataFrame({c.INERTIA: [900, 800, 700, 600, 500, 400, 300, 200, 100],
                         c.SILHOUETTE: [0.2, 0.6, 0.5, 0.4, 0.4, 0.3, 0.3, 0.3, 0.2]},
                        index=pd.Index(range(2, 11), name=c.K))
    assert diagnostics.elbow_k(scan) is None
    choice = diagnostics.choose_k(scan, rule="elbow")
    assert (choice.k, choice.elbow) == (3, None)
    assert "no elbow" in choice.reason


def test_choice_reports_both_suggestions_and_applies_only_the_rule_asked():
    scan = pd.DataFrame({c.INERTIA: [1000, 500, 250, 220, 200, 185, 175, 168, 163],
                         c.SILHOUETTE: [0.9, 0.5, 0.7, 0.6, 0.5, 0.4, 0.4, 0.3, 0.3]},
                        index=pd.Index(range(2, 11), name=c.K))
    auto = diagnostics.choose_k(scan)
    assert (auto.k, auto.best_silhouette, auto.elbow) == (2, 2, 4)
    assert "silhouette (0.900)" in auto.reason and "elbow (kneed) is at k = 4" in auto.reason
    assert diagnostics.choose_k(scan, rule="elbow").k == 4
    with pytest.raises(ValueError, match="rule"):
        diagnostics.choose_k(scan, rule="guess")


def test_log_scaling_splits_heavy_tailed_spend_more_evenly():
    customers = heavy_tailed_customers()
    raw = cluster_customers(customers).labels.value_counts()
    log = cluster_customers(customers, log=True).labels.value_counts()
    assert raw.min() <= 3  # raw spend isolates the three giants
    assert log.min() > 30


def test_identical_runs_have_an_adjusted_rand_index_of_one():
    customers = customers_with_spend([10.0, 11.0, 12.0, 500.0, 510.0, 520.0, 5000.0, 5100.0, 5200.0])
    seeds = diagnostics.seed_stability(customers, k=3, seeds=range(4))
    assert len(seeds) == 6  # every pair of four seeds
    assert (seeds == 1.0).all()
    bootstrap = diagnostics.bootstrap_stability(customers, k=3, n_resamples=5)
    # every resample that draws all three groups refits them exactly; nine customers can miss one group
    assert len(bootstrap) == 5 and (bootstrap == 1.0).sum() >= 3


def test_stability_summary_has_a_row_per_check():
    summary = diagnostics.summarise_stability(pd.Series([1.0, 0.5]), pd.Series([0.8, 0.9, 1.0]))
    assert summary.loc["seeds (every pair)", "comparisons"] == 2
    assert summary.loc["bootstrap resamples", "min"] == 0.8
    assert summary.loc["seeds (every pair)", "mean"] == 0.75


def test_scaling_comparison_counts_every_clustered_customer():
    customers = heavy_tailed_customers()
    results = {"raw": cluster_customers(customers), "log": cluster_customers(customers, log=True)}
    table = diagnostics.compare_scalings(customers, results)
    assert table.loc["raw", c.CUSTOMERS].sum() == table.loc["log", c.CUSTOMERS].sum() == len(customers)
    assert table.loc["log", "max_" + c.TOTAL_BILL_SIZE].iloc[-1] == 120_000.0


def test_scan_summary_names_the_best_k_and_calls_a_narrow_silhouette_flat():
    def scan(silhouettes):
        return pd.DataFrame({c.INERTIA: [9.0, 6.0, 4.0], c.SILHOUETTE: silhouettes},
                            index=pd.Index([2, 3, 4], name=c.K))

    # spans 0.04 (< 0.05): flat; spans 0.15: best k = 3; a tie goes to the smaller k
    summary = diagnostics.summarise_scans({"flat": scan([0.50, 0.54, 0.52]), "peaked": scan([0.30, 0.45, 0.31]),
                                           "tied": scan([0.60, 0.60, 0.20])})
    assert summary.index.tolist() == ["flat", "peaked", "tied"]
    assert summary[c.FLAT].tolist() == [True, False, False]
    assert summary[c.BEST_K].tolist() == [3, 3, 2]
    assert summary.loc["flat", c.LOWEST_SILHOUETTE] == 0.50
    assert summary.loc["peaked", c.BEST_SILHOUETTE] == 0.45


def test_segment_stability_finds_well_separated_groups_stable_and_noise_split_unstable():
    rng = np.random.default_rng(0)
    separated = pd.DataFrame({c.TOTAL_BILL_SIZE: np.concatenate([rng.normal(100, 5, 60), rng.normal(1000, 5, 60),
                                                                  rng.normal(5000, 5, 60)])},
                             index=pd.RangeIndex(180, name=c.CUSTOMER_ID))
    stable = diagnostics.segment_stability(separated, cluster_customers(separated, k=3))
    assert stable[c.MEAN_JACCARD].min() > 0.95 and stable[c.STABLE].all()
    assert stable[c.CUSTOMERS].tolist() == [60, 60, 60]
    # one uniform blob cut into 6 pieces: the cuts move from resample to resample
    blob = pd.DataFrame({c.TOTAL_BILL_SIZE: rng.uniform(100, 200, 60)}, index=pd.RangeIndex(60, name=c.CUSTOMER_ID))
    loose = diagnostics.segment_stability(blob, cluster_customers(blob, k=6))
    assert loose[c.MEAN_JACCARD].min() < config.STABLE_JACCARD
