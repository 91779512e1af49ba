"""incident search: description embeddings and full text (issue 8)

Revision ID: 0005
Revises: 0004

`incident_texts` holds an incident's searchable texts, one row per source: `description`, written
by a trigger whenever the incident row changes (a template, searched by its words only), and
whatever stage 2 adds through `db.search.index_incident_text` (captions, summary, explanation).
Each row has a generated English `tsvector` (GIN) and, except descriptions, a MiniLM sentence
embedding (`vector(384)`, HNSW, cosine). One embedding per
text, not per incident: a short summary must not be drowned by long captions in one vector. A
changed text clears its embedding (re-embedded later); full-text search sees it at once.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

DESCRIPTION = """
CREATE FUNCTION vad_incident_description() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    camera_name text;
    described text;
BEGIN
    SELECT name INTO camera_name FROM cameras WHERE id = NEW.camera_id;
    described := 'Anomaly on camera ' || coalesce(camera_name, '?')
        || coalesce(' detected by ' || NEW.scorer, '')
        || coalesce('. ' || NEW.rule, '');
    INSERT INTO incident_texts (incident_id, source, body)
    VALUES (NEW.id, 'description', described)
    ON CONFLICT (incident_id, source) DO UPDATE
        SET body = EXCLUDED.body, embedding = NULL, model = NULL, updated_at = now()
        WHERE incident_texts.body IS DISTINCT FROM EXCLUDED.body;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.execute(
        """
        CREATE TABLE incident_texts (
            incident_id BIGINT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
            source VARCHAR(40) NOT NULL,
            body TEXT NOT NULL,
            tsv TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', body)) STORED,
            embedding vector(384),
            model VARCHAR(100),
            updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (incident_id, source)
        )
        """
    )
    op.execute("COMMENT ON COLUMN incident_texts.source IS 'description, caption, summary, ...'")
    op.execute("COMMENT ON COLUMN incident_texts.embedding IS 'MiniLM of body; NULL = pending'")
    op.execute("CREATE INDEX ix_incident_texts_tsv ON incident_texts USING gin (tsv)")
    op.execute(
        "CREATE INDEX ix_incident_texts_hnsw ON incident_texts "
        "USING hnsw (embedding vector_cosine_ops)"
    )
    op.execute(
        "CREATE INDEX ix_incident_texts_pending ON incident_texts (incident_id) "
        "WHERE embedding IS NULL AND source <> 'description'"
    )
    op.execute(DESCRIPTION)
    op.execute(
        "CREATE TRIGGER incident_texts_description AFTER INSERT OR UPDATE OF camera_id, scorer, "
        "rule ON incidents FOR EACH ROW EXECUTE FUNCTION vad_incident_description()"
    )
    op.execute("UPDATE incidents SET rule = rule")  # existing incidents get their description


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS incident_texts_description ON incidents")
    op.execute("DROP FUNCTION IF EXISTS vad_incident_description()")
    op.execute("DROP TABLE IF EXISTS incident_texts")
