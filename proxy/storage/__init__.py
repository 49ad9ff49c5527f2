"""Content-addressed storage for blobs and manifests."""

from proxy.storage.base import BlobNotFoundError, BlobStore, StorageError, Upload

__all__ = ["BlobNotFoundError", "BlobStore", "StorageError", "Upload"]
