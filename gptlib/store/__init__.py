"""A model store: publish, list, search, install and load models, trusting nothing that has not been hashed.

The article this series grew from describes a "GPT store" where people choose, buy and download GPT
models. This package is a real, local one (notebook 09):

- :class:`LocalStore`      a store in a folder: content-addressed blobs, manifests, tags   (``local``)
- :func:`install`          copy a model from a remote store, hashing every byte            (``install``)
- :func:`open_remote`      a remote: another store's folder or an HTTP server              (``remote``)
- :class:`StoreServer`     serve a store over HTTP, also to Hugging Face's Hub client      (``server``)
- :func:`make_card`        model cards in the Hub's format, and the facts the store reads   (``card``)
- :func:`search`           filter and sort what a store lists                              (``catalog``)
- ``python -m gptlib.store --help``   the command line                                     (``cli``)

The checks that keep a downloaded model from doing harm live in ``names`` (digests, paths and names)
and ``safety`` (no pickles; safetensors headers checked before anything is read).
"""

from .card import CardError, CardFacts, make_card, read_card_data, read_facts
from .catalog import ModelInfo, search, table
from .install import Installed, install
from .local import IntegrityError, LocalStore
from .manifest import FileEntry, Manifest, ManifestError
from .names import ModelNotFoundError, StoreError, UnsafePathError
from .remote import FolderRemote, HTTPRemote, StoreConnectionError, open_remote
from .safety import UnsafeFileError, check_safetensors
from .server import Faults, StoreServer

__all__ = [
    "CardError",
    "CardFacts",
    "Faults",
    "FileEntry",
    "FolderRemote",
    "HTTPRemote",
    "Installed",
    "IntegrityError",
    "LocalStore",
    "Manifest",
    "ManifestError",
    "ModelInfo",
    "ModelNotFoundError",
    "StoreConnectionError",
    "StoreError",
    "StoreServer",
    "UnsafeFileError",
    "UnsafePathError",
    "check_safetensors",
    "install",
    "make_card",
    "open_remote",
    "read_card_data",
    "read_facts",
    "search",
    "table",
]
