"""Blob Storage for video outputs: the connection (`connection`), run folder names (`names`), the store (`blob_store`).

Typical use: `output_store().upload_stream(run_blob(run_id, "video.mp4"), chunks, content_type="video/mp4",
expected_size=n)`; the blob appears only when all `n` bytes arrived.
"""

from soraflow.storage.blob_store import (
    BlobNotFoundError,
    BlobReader,
    BlobStore,
    BlobStoreError,
    BlobTooLargeError,
    IncompleteDownloadError,
    InvalidBlobContentError,
    StoredBlob,
    container_store,
    output_store,
)
from soraflow.storage.connection import StorageConnection, resolve_connection
from soraflow.storage.names import (
    MANIFEST_NAME,
    InvalidBlobNameError,
    run_blob,
    run_prefix,
    validate_blob_name,
    validate_run_id,
)

__all__ = [
    "MANIFEST_NAME",
    "BlobNotFoundError",
    "BlobReader",
    "BlobStore",
    "BlobStoreError",
    "BlobTooLargeError",
    "IncompleteDownloadError",
    "InvalidBlobContentError",
    "InvalidBlobNameError",
    "StorageConnection",
    "StoredBlob",
    "container_store",
    "output_store",
    "resolve_connection",
    "run_blob",
    "run_prefix",
    "validate_blob_name",
    "validate_run_id",
]
