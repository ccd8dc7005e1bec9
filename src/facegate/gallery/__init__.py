"""People and templates, a vector index per process, and the open-set decision.

Takes vectors, never images. ``Gallery`` is the facade the rest of facegate uses; ``SqlStore``
is the database (SQLite or PostgreSQL), ``VectorIndex`` the in-memory faiss index,
``Matcher`` the open-set decision.
"""

from facegate.gallery.gallery import Gallery, open_store
from facegate.gallery.index import Hits, IndexParams, VectorIndex
from facegate.gallery.matcher import Candidate, Match, Matcher, MatcherParams
from facegate.gallery.model_guard import ModelGuard
from facegate.gallery.store import SqlStore
from facegate.gallery.types import JsonObject, ModelPin, NewTemplate, Person, PersonPage, Template

__all__ = [
    "Candidate",
    "Gallery",
    "Hits",
    "IndexParams",
    "JsonObject",
    "Match",
    "Matcher",
    "MatcherParams",
    "ModelGuard",
    "ModelPin",
    "NewTemplate",
    "Person",
    "PersonPage",
    "SqlStore",
    "Template",
    "VectorIndex",
    "open_store",
]
