"""Projection: 2-D maps of the feature matrix (PCA at once, UMAP in a background process), cached on disk."""

from core.projection.maps import UmapJob, cached_projection, project, start_umap, stop_all

__all__ = ["project", "cached_projection", "start_umap", "stop_all", "UmapJob"]
