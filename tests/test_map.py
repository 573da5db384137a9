"""The map's parts without a browser: area selection on every row, honest colours, the palette, the
coordinate file and packed colour codes, and the UMAP graph hand-over."""

from __future__ import annotations

import numpy as np
import pytest

import core
from workbench import charts, map_canvas, map_views, maps

# Machado, Oliveira and Fernandes (2009) colour-vision-deficiency matrices, severity 1, linear RGB
CVD = {"protanope": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                              [-0.003882, -0.048116, 1.051998]]),
       "deuteranope": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                                [-0.011820, 0.042940, 0.968881]])}


def _lab(hex_colours, matrix=None) -> np.ndarray:
    rgb = np.array([[int(h.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)] for h in hex_colours])
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    if matrix is not None:
        linear = np.clip(linear @ matrix.T, 0, 1)
    xyz = linear @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


def _closest_pair(lab: np.ndarray) -> float:
    distances = np.linalg.norm(lab[:, None] - lab[None], axis=2)
    distances[np.diag_indices(len(lab))] = np.inf
    return float(distances.min())


@pytest.mark.parametrize("vision", [None, "protanope", "deuteranope"])
def test_twenty_class_colours_stay_apart_for_common_colour_blindness(vision):
    colours = charts.CLASS_COLOURS
    assert len(colours) == 20 and len(set(colours)) == 20
    matrix = CVD.get(vision)
    assert _closest_pair(_lab(colours, matrix)) >= 12  # CIELAB units; 2.3 is "just noticeable"
    assert _closest_pair(_lab(colours[:10], matrix)) >= 17  # the usual 10 classes: further apart
    greys = _lab(["#DEDFE0", "#FFFFFF"], matrix)  # the unselected grey as drawn (35% over white), the background
    assert np.linalg.norm(_lab(colours, matrix)[:, None] - greys[None], axis=2).min() >= 12


def test_the_same_class_gets_the_same_colour_on_every_chart():
    counts = __import__("pandas").Series([5, 4, 3], index=["a", "b", "c"])
    bars = charts.class_balance(counts).data[0].marker.color
    hist = charts.score_distribution(np.arange(12.0), np.repeat([0, 1, 2], 4), ["a", "b", "c"], "s")
    assert list(bars) == [t.marker.color for t in hist.data] == charts.CLASS_COLOURS[:3]


def test_a_drawn_area_selects_every_row_inside_it_not_only_the_drawn_ones():
    rng = np.random.default_rng(0)
    coords = rng.uniform(-10, 10, size=(200_000, 2)).astype(np.float32)
    lasso = {"x": [-5, 5, 5, 0, -5], "y": [-5, -5, 5, 8, 5]}  # a house-shaped polygon
    inside = maps.rows_inside(coords, lasso)
    x, y = coords[:, 0], coords[:, 1]
    roof = (y > 5) & (y <= 8) & (np.abs(x) <= 5 * (8 - y) / 3)
    expected = (np.abs(x) <= 5) & (np.abs(y) <= 5) | roof
    near_edge = (np.abs(np.abs(x) - 5) < 1e-3) | (np.abs(np.abs(y) - 5) < 1e-3)
    assert np.array_equal(inside[~near_edge], expected[~near_edge])
    assert inside.sum() == pytest.approx(len(coords) * (100 + 15) / 400, rel=0.02)
    box = maps.rows_inside(coords, {"x": [2, -1], "y": [0, 3]})
    assert np.array_equal(box, (x >= -1) & (x <= 2) & (y >= 0) & (y <= 3))
    assert not maps.rows_inside(coords, None).any() and not maps.rows_inside(coords, {"x": [1], "y": [1]}).any()
    assert maps.selection_words(1924, 20_000, 9611) == "1,924 selected · of 20,000 shown · 9,611 rows inside the area"


def test_draw_order_is_a_shuffle_so_kept_and_dropped_show_at_their_shares():
    shown = np.arange(50_000)
    order = maps.draw_order(shown, seed=0)
    assert sorted(order) == list(shown) and not np.array_equal(order, shown)
    kept = np.zeros(50_000, bool)
    kept[:35_000] = True  # kept rows first in the data: drawn in data order they would sit below the dropped
    last_drawn = kept[order[-5_000:]]  # the points on top of the picture
    assert abs(last_drawn.mean() - 0.7) < 0.02


class _Selection:
    def __init__(self, mask):
        self.mask = mask
        self.n_kept = int(mask.sum())


def test_legend_shares_are_those_of_all_rows_and_unselected_rows_are_greyed_not_hidden():
    rng = np.random.default_rng(1)
    ds = core.Dataset.from_arrays(rng.normal(size=(1_000, 3)), rng.integers(0, 3, 1_000))
    sel = _Selection(rng.random(1_000) < 0.3)
    pic = map_views.picture("Kept / dropped", ds, sel, None, np.zeros(1_000, bool), [], "PCA")
    kept = next(item for item in pic.items if item["name"] == "kept")
    assert kept["count"] == sel.n_kept and kept["share"] == pytest.approx(sel.n_kept / 1_000)
    selected = np.zeros(1_000, bool)
    selected[:100] = True
    greyed = pic.with_selection(selected)
    assert len(greyed.codes) == 1_000  # every row still drawn
    assert np.array_equal(greyed.codes[:100], pic.codes[:100])
    assert (np.asarray(greyed.palette)[greyed.codes[100:]] == map_views.UNSELECTED).all()
    assert greyed.layers is None  # one layer: the shuffled draw order stays, so no point is resent
    classes = map_views.picture("Class", ds, sel, None, None, [], "PCA")
    assert classes.palette == charts.CLASS_COLOURS[:3] and sum(i["count"] for i in classes.items) == 1_000


def test_codes_pack_small_and_coordinates_are_written_once(tmp_path, monkeypatch):
    for top in (1, 3, 15, 200):
        codes = np.random.default_rng(top).integers(0, top + 1, 12_345).astype(np.uint8)
        text, bits = map_canvas.pack_codes(codes)
        assert np.array_equal(map_canvas.unpack_codes(text, bits, len(codes)), codes)
        assert len(text) <= 1.34 * len(codes) * bits / 8 + 4
    monkeypatch.setitem(map_canvas._STATE, "folder", tmp_path)
    coords = np.random.default_rng(0).normal(size=(1_000, 2)).astype(np.float32)
    order = np.random.default_rng(1).permutation(1_000)
    name = map_canvas.coordinates_file(coords, order, "fp:PCA:0")
    written = np.fromfile(tmp_path / name, dtype=np.float32).reshape(-1, 2)
    assert np.array_equal(written, coords[order])
    stamp = (tmp_path / name).stat().st_mtime_ns
    assert map_canvas.coordinates_file(coords, order, "fp:PCA:0") == name  # the same layout: no rewrite
    assert (tmp_path / name).stat().st_mtime_ns == stamp
    assert map_canvas.coordinates_file(coords, order, "fp:UMAP:0") != name


def test_umap_gets_scorings_graph_with_each_row_its_own_first_neighbour():
    from core.foundation.neighbors import knn_graph
    from core.projection.layout import graph_for_umap

    X = np.random.default_rng(0).normal(size=(300, 5)).astype(np.float32)
    graph = knn_graph(X, 30, device="cpu")
    indices, distances = graph_for_umap(graph, 15)
    assert indices.shape == distances.shape == (300, 15)
    assert np.array_equal(indices[:, 0], np.arange(300)) and (distances[:, 0] == 0).all()
    assert np.array_equal(indices[:, 1:], graph.indices[:, :14])
    assert graph_for_umap(graph.first(10), 15) is None and graph_for_umap(None, 15) is None


def test_the_summary_names_the_classes_the_subset_thinned_most():
    from workbench.summary import skew_words, thinned_most

    kept, totals = np.array([173, 1000, 1000, 900]), np.array([1000, 3000, 3000, 3000])
    assert thinned_most(["a", "b", "c", "d"], kept, totals)[0] == ("a", 173, 1000, 0.173)
    words = skew_words(["a", "b", "c", "d"], kept, totals)
    assert "a keeps 173 of 1,000 rows (17%)" in words and "31% overall" in words and "d keeps" not in words
    assert skew_words(["a", "b"], np.array([300, 310]), np.array([1000, 1000])).startswith("Every class keeps")


def test_the_data_page_tells_the_reduction_in_plain_words():
    from types import SimpleNamespace

    from workbench.data_forms import loading_notes

    core_note = ("Reduced 256 features to 128 with PCA automatically (max_dim='auto'); they explain 99.2% of the "
                 "variance. Keep every feature with max_dim=None (CLI: --max-dim 0).")
    pictures = SimpleNamespace(warnings=[core_note, "Dropped 3 rows without a label."],
                               images=np.zeros((5, 28, 28), np.float32),
                               settings={"featurizer": "image", "image_size": 16, "pca_dim": 128,
                                         "pca_input_dim": 256, "pca_explained_variance": 0.992})
    notes = loading_notes(pictures)
    assert notes[0] == "Dropped 3 rows without a label." and len(notes) == 2
    assert "28×28-pixel pictures" in notes[1] and "16×16" in notes[1] and "128 features" in notes[1]
    assert "99.2%" in notes[1] and not any(word in notes[1] for word in ("max_dim", "--max-dim", "None"))
    table = SimpleNamespace(warnings=[core_note], images=None,
                            settings={"pca_dim": 128, "pca_input_dim": 300, "pca_explained_variance": 0.9})
    assert "the 300 feature columns were summarised into 128 features" in loading_notes(table)[0]


def test_umap_waits_for_scoring_and_uses_its_graph(monkeypatch):
    from workbench import state

    class Job:
        def __init__(self, graph):
            self.fingerprint, self.seed, self.graph, self.error_, self.process_ = "fp", 0, graph, None, None
            self.running, self.failed = True, False

        def cancel(self):
            self.running, self.failed, self.error_ = False, True, "cancelled"

    ds = type("DS", (), {"fingerprint": "fp"})()
    store, started = {"umap_job": None}, []
    monkeypatch.setattr(state, "get", store.get)
    monkeypatch.setattr(state, "put", store.__setitem__)
    monkeypatch.setattr(maps, "umap_mode", lambda: "load")
    monkeypatch.setattr(maps, "cached_projection", lambda *a: None)
    monkeypatch.setattr(maps, "start_umap", lambda ds, seed: started.append(Job(graph_ready[0])) or started[-1])
    graph_ready, scoring = [False], [False]
    monkeypatch.setattr(maps, "graph_stored", lambda ds, seed: graph_ready[0])
    monkeypatch.setattr(maps.jobs, "running", lambda name: scoring[0] and name == maps.SCORING_JOB)
    yielded = []
    monkeypatch.setattr(maps.jobs, "yield_process", yielded.append)  # the compute plan's pause/resume

    assert maps.ensure_umap(ds) is None and not started  # loaded, nothing scored, Map not open: wait
    job = maps.ensure_umap(ds, asked=True)  # the Map page asks: its own neighbour search
    assert job is started[0] and not job.graph
    scoring[0] = True
    assert maps.ensure_umap(ds) is None and not job.running  # scoring started: the graph-less job stops
    assert maps.ensure_umap(ds, asked=True) is None and len(started) == 1  # nothing starts beside scoring
    scoring[0], graph_ready[0] = False, True
    again = maps.ensure_umap(ds)  # scoring done and its graph stored: UMAP starts on it
    assert again is started[1] and again.graph and maps.ensure_umap(ds) is again
    assert len(yielded) == 2  # each start was handed to the compute plan


def test_the_map_shows_each_duplicate_groups_survivor_against_its_removed_copies(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 100)
    X = rng.normal(size=(300, 4)) + 6.0 * np.eye(3, 4)[y]
    ds = core.Dataset.from_arrays(np.vstack([X, X[:30] + 1e-4, X[:10] + 2e-4]), np.concatenate([y, y[:30], y[:10]]))
    scores = core.compute_scores(ds, ["duplicate"], seed=0)
    groups = map_views.duplicate_groups(scores, ["duplicate"])
    assert groups is not None and len(np.unique(groups[groups >= 0])) == 30 and (groups >= 0).sum() == 70
    assert map_views.DUPLICATES in map_views.colour_options(scores, ["duplicate"])
    assert map_views.DUPLICATES not in map_views.colour_options(scores.drop(columns="duplicate_group"), ["duplicate"])

    sel = core.select(ds, scores, "dedupe:keep=central", seed=0)  # exactly one survivor per group
    pic = map_views.picture(map_views.DUPLICATES, ds, sel, scores, None, [], "PCA", groups)
    counts = {item["name"]: item["count"] for item in pic.items}
    assert counts["survivor (the copy kept)"] == 30 and counts["removed copy"] == 40
    assert counts["not a duplicate"] == 270 and sum(counts.values()) == ds.n_samples
    survivors = np.flatnonzero(pic.codes == 1)
    assert sorted(groups[survivors]) == list(range(30)) and sel.mask[survivors].all()
    assert not sel.mask[pic.codes == 2].any()
    assert pic.layers[-1][-1] == 1 and pic.sizes[2] > pic.sizes[1]  # survivors on top of their larger copies

    mask = np.ones(ds.n_samples, bool)  # a recipe that keeps everything: copies kept side by side
    mask[np.flatnonzero(groups == 0)] = False  # ... except group 0, dropped entirely
    mixed = map_views.picture(map_views.DUPLICATES, ds, _Selection(mask), scores, None, [], "PCA", groups)
    counts = {item["name"]: item["count"] for item in mixed.items}
    assert counts["copy kept beside another copy"] == 70 - (groups == 0).sum()
    assert counts["copy in a group dropped entirely"] == (groups == 0).sum()
    assert counts["survivor (the copy kept)"] == 0 and counts["removed copy"] == 0  # still listed, at zero
    greyed = pic.with_selection(np.arange(ds.n_samples) < 100)
    assert len(greyed.sizes) == len(greyed.palette) and (np.asarray(greyed.palette)[greyed.codes[100:]]
                                                         == map_views.UNSELECTED).all()


def test_row_ids_for_hover_are_written_in_draw_order(tmp_path, monkeypatch):
    monkeypatch.setitem(map_canvas._STATE, "folder", tmp_path)
    order = np.array([2, 0, 1])
    name, write = map_canvas.ids_file(np.array([10, 11, 2 ** 40], dtype=object), order, "fp:PCA:0")
    assert not (tmp_path / name).exists()  # written by the call after the map's message, not before
    assert write() == name
    data = (tmp_path / name).read_bytes()
    assert data[:8] == map_canvas.ID_NUMBERS
    assert np.frombuffer(data[8:], dtype=np.float64).tolist() == [2 ** 40, 10, 11]
    name, write = map_canvas.ids_file(np.array(["a", "b", 7], dtype=object), order, "fp2:PCA:0")
    assert __import__("json").loads((tmp_path / write()).read_text()) == ["7", "a", "b"]
