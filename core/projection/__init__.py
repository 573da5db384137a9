"""Projection: 2-D maps of the feature matrix (PCA at once, UMAP in a background process), cached on disk."""

from core.projection.layout import pca_2d, umap_layout
from core.projection.maps import UmapJob, cached_projection, graph_stored, project, start_umap, stop_all, stored_graph

__all__ = ["project", "cached_projection", "start_umap", "stop_all", "UmapJob", "umap_layout", "pca_2d", "graph_stored",
           "stored_graph"]
