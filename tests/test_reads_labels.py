"""One rule for "does this score read the labels": the scorer instance, with the parameters it was run with."""

import numpy as np

import core
from core.data.samples import load_sample
from core.evaluation import LiveEvaluator
from core.scorers import get_scorer, reads_labels
from core.selection.grammar import scores_read_labels


def test_the_instance_decides_and_unknown_origins_count_as_reading_labels():
    assert reads_labels("label_noise") and not reads_labels("outlier")
    assert not reads_labels("prototypicality") and not reads_labels("prototypicality", {"method": "kmeans"})
    assert reads_labels("prototypicality", {"method": "class_centroid"})
    assert reads_labels("no_such_scorer") and reads_labels("prototypicality", {"no_such_param": 1})
    assert scores_read_labels("ccs:el2n") and not scores_read_labels("knn_density:high")


def test_a_class_centroid_prototypicality_is_scored_without_each_folds_labels():
    """Its records say which method ran: the fold-wise scores recompute that method per fold (the class
    means of the rows outside the fold), not the label-free k-means default, and not the all-rows column."""
    ds = load_sample("known_answer")
    ev = LiveEvaluator(ds, folds=5, seed=0)
    centroid = core.compute_scores(ds, ["outlier", get_scorer("prototypicality")(method="class_centroid")], seed=0)
    kmeans = core.compute_scores(ds, ["outlier", "prototypicality"], seed=0)
    assert core.workflows.labelled_scorers(centroid) == ["prototypicality"]
    assert core.workflows.labelled_scorers(kmeans) == [] and core.workflows.fold_scores_of(ds, kmeans, ev) is None
    fs = core.workflows.fold_scores_of(ds, centroid, ev)
    rows = np.flatnonzero(ev.fold_of_row_ != 1)
    per_fold = fs.frames[1]["prototypicality"].to_numpy()
    expected = core.compute_scores(ds.take(rows), [get_scorer("prototypicality")(method="class_centroid")],
                                   seed=0, cache=False)["prototypicality"].to_numpy()
    assert np.allclose(per_fold, expected)
    assert not np.allclose(per_fold, centroid["prototypicality"].to_numpy()[rows])
    assert not np.allclose(per_fold, kmeans["prototypicality"].to_numpy()[rows])
