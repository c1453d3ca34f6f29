package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migration is one schema step. Steps are applied in order and never edited
// once released: a change to the schema is a new step appended to the list.
type migration struct {
	version int
	sql     string
}

// migrations is the schema history of genos.db. Version n is the n-th entry.
var migrations = []migration{
	{1, `
CREATE TABLE sessions (
	key        TEXT PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	agent_id   TEXT NOT NULL,
	channel    TEXT NOT NULL DEFAULT '',
	peer       TEXT NOT NULL DEFAULT '',
	title      TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL, -- unix nanoseconds, UTC
	updated_at INTEGER NOT NULL  -- unix nanoseconds, UTC
) STRICT;
CREATE INDEX sessions_updated ON sessions (updated_at DESC);
CREATE INDEX sessions_agent_updated ON sessions (agent_id, updated_at DESC);
`},
	// Channel access (pairing.go, channels.go). Everything that identifies a
	// person lives in the sealed column; rows are keyed by a random id and
	// matched in memory after unsealing, since sealed values cannot be
	// searched. channel and the times identify nobody and stay plain so rows
	// can be listed per channel and pruned without the vault.
	{2, `
CREATE TABLE pairing_requests (
	id         TEXT PRIMARY KEY,   -- random, carries no content
	channel    TEXT NOT NULL,
	created_at INTEGER NOT NULL,   -- unix nanoseconds, UTC
	expires_at INTEGER NOT NULL,   -- unix nanoseconds, UTC
	sealed     BLOB NOT NULL       -- peer id, display name, code (sealed by the caller)
) STRICT;
CREATE INDEX pairing_requests_channel ON pairing_requests (channel, created_at);
CREATE TABLE channel_allow (
	id         TEXT PRIMARY KEY,   -- random, carries no content
	channel    TEXT NOT NULL,
	created_at INTEGER NOT NULL,   -- unix nanoseconds, UTC
	sealed     BLOB NOT NULL       -- peer id, display name (sealed by the caller)
) STRICT;
CREATE INDEX channel_allow_channel ON channel_allow (channel, created_at);
`},
	// Memory (memory.go) and the embedding cache (embedcache.go). Note paths,
	// chunk text and vectors live only in the sealed columns: the search
	// index is rebuilt in memory at unlock, so nothing here can be searched
	// without the vault. Cache keys are keyed hashes (HMAC under a vault
	// secret), never plain hashes of what the user wrote, which a dictionary
	// of short messages could reverse.
	{3, `
CREATE TABLE memory_notes (
	id         TEXT PRIMARY KEY,   -- random, carries no content
	agent_id   TEXT NOT NULL,
	updated_at INTEGER NOT NULL,   -- unix nanoseconds, UTC
	sealed     BLOB NOT NULL       -- path, content hash, size, mtime (sealed by the caller)
) STRICT;
CREATE INDEX memory_notes_agent ON memory_notes (agent_id);
CREATE TABLE memory_chunks (
	id         INTEGER PRIMARY KEY, -- the search index's document id
	agent_id   TEXT NOT NULL,
	note_id    TEXT NOT NULL REFERENCES memory_notes (id) ON DELETE CASCADE,
	seq        INTEGER NOT NULL,
	sealed     BLOB NOT NULL        -- text, line range, time, embedder, vector (sealed by the caller)
) STRICT;
CREATE INDEX memory_chunks_agent ON memory_chunks (agent_id);
CREATE INDEX memory_chunks_note ON memory_chunks (note_id, seq);
CREATE TABLE embed_cache (
	key        TEXT PRIMARY KEY,   -- hex HMAC-SHA256 under a vault secret of (provider/model, text)
	model      TEXT NOT NULL,      -- provider/model, so a model change can prune its rows
	used_at    INTEGER NOT NULL,   -- unix nanoseconds, UTC; least recently used rows go first
	sealed     BLOB NOT NULL       -- the vector (sealed by the caller)
) STRICT;
CREATE INDEX embed_cache_used ON embed_cache (used_at);
`},
}

// migrate brings the schema up to the last step in one IMMEDIATE transaction,
// so two processes opening the same file at once cannot both apply a step,
// and a failing step leaves the database as it was.
func migrate(ctx context.Context, db *sql.DB, steps []migration) error {
	for i, m := range steps {
		if m.version != i+1 {
			return fmt.Errorf("migration list: step %d has version %d", i+1, m.version)
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}

	var current, count int
	if err := tx.QueryRowContext(ctx,
		`SELECT COALESCE(MAX(version), 0), COUNT(*) FROM schema_migrations`).Scan(&current, &count); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > len(steps) {
		return fmt.Errorf("schema version %d, supported up to %d: %w", current, len(steps), ErrSchemaTooNew)
	}
	if count != current {
		// Steps are applied strictly in order, so versions 1..current must all
		// be present; anything else means the table was edited by hand.
		return fmt.Errorf("schema_migrations is inconsistent: %d rows for version %d", count, current)
	}

	for _, m := range steps[current:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("apply migration %d: %w", m.version, err)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
			m.version, time.Now().UnixNano()); err != nil {
			return fmt.Errorf("record migration %d: %w", m.version, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migrations: %w", err)
	}
	return nil
}
