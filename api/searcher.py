"""One search request end to end: encoders loaded once per process, then incidents and moments.

Used by `vad search` and `GET /search`. The sentence model (MiniLM, numpy) is required; the CLIP
encoder is optional - without it, or without stored frame embeddings, only incidents are searched.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.orm import Session

from api.moments import MomentHit, search_moments
from api.settings import ApiAppSettings
from db.search import (
    Filters,
    IncidentHit,
    SearchRequest,
    embed_pending,
    in_zone,
    search_incidents,
)
from vad.text import SentenceEncoder

log = logging.getLogger(__name__)
EMBED_ON_SEARCH = 16  # pending texts a search embeds first (~0.5 s), so fresh ones are found


@dataclass(frozen=True, slots=True)
class SearchResult:
    incidents: list[IncidentHit]
    moments: list[MomentHit]
    moments_available: bool


def load_clip(settings: ApiAppSettings):
    """The installed CLIP encoder (issue 5's export), or None."""
    try:
        from vad.encoders.clip import ClipEncoder
        from vad.encoders.runtime import ModelError
    except ImportError:
        return None
    folder = settings.model_dir / "encoders" / settings.encoders.clip
    if not (folder / "manifest.json").is_file():
        return None
    try:
        return ClipEncoder.load(folder, list(settings.encoders.providers) or None)
    except ModelError as error:
        log.warning("moment search off: %s", error)
        return None


@dataclass
class Searcher:
    settings: ApiAppSettings
    _text: SentenceEncoder | None = None
    _clip: object | None = None
    _clip_loaded: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def text_encoder(self) -> SentenceEncoder:
        with self._lock:
            if self._text is None:
                self._text = SentenceEncoder.load(self.settings.search.text_model_dir)
            return self._text

    def clip(self):
        with self._lock:
            if not self._clip_loaded:
                self._clip, self._clip_loaded = load_clip(self.settings), True
            return self._clip

    def index_pending(self, session: Session, limit: int) -> int:
        encoder = self.text_encoder()
        return embed_pending(session, encoder.embed, encoder.name, limit)

    def search(
        self, session: Session, words: str, filters: Filters, limit: int, moments: bool = True
    ) -> SearchResult:
        cfg = self.settings.search
        encoder = self.text_encoder()
        embed_pending(session, encoder.embed, encoder.name, EMBED_ON_SEARCH)
        request = SearchRequest(
            words=words,
            vector=encoder.embed([words])[0],
            filters=filters,
            limit=limit,
            candidates=max(cfg.candidates, limit),
            rrf_k=cfg.rrf_k,
            min_similarity=cfg.min_similarity,
        )
        incidents = search_incidents(session, request)
        clip = self.clip() if moments else None
        if clip is None:
            return SearchResult(incidents, [], False)
        found = search_moments(
            session,
            (clip.name, clip.dim),
            clip.embed_texts([words])[0],
            filters,
            self.settings.grounding,
            cfg.moments_per_camera,
            timedelta(hours=cfg.moment_window_hours),
        )
        if filters.zone:  # a moment is in a zone when the incident it belongs to touched it
            keep = in_zone(session, (m.incident_id for m in found), filters.zone)
            found = [m for m in found if m.incident_id in keep]
        return SearchResult(incidents, found[:limit], True)
