"""Data: the Dataset record, readers of every accepted format, featurizers, loading and the samples."""

from core.data.dataset import Dataset
from core.data.loading import load_dataset
from core.data.readers import NA_STRINGS, TABLE_SUFFIXES, RawData, read_bytes, read_path
from core.data.samples import list_samples, load_sample, make_known_answer, sample_path

__all__ = ["Dataset", "load_dataset", "RawData", "TABLE_SUFFIXES", "read_path", "read_bytes", "list_samples", "load_sample",
           "make_known_answer", "sample_path", "NA_STRINGS"]
