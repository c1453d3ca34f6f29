package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// MemoryNote is the index row of one agent memory note (MEMORY.md or a
// memory/*.md file). The note's path, content hash and everything else that
// could tell what the user wrote are sealed by the caller into Sealed; the
// row is keyed by a random ID.
type MemoryNote struct {
	// ID is random and carries no content.
	ID        string
	AgentID   string
	UpdatedAt time.Time
	// Sealed is the caller's sealed payload, stored as given.
	Sealed []byte
}

// MemoryChunk is one searchable chunk of a note. ID is the search index's
// document id, assigned by the database when the chunk is stored; the text,
// line range, vector and the rest are sealed by the caller into Sealed.
type MemoryChunk struct {
	ID      int64
	AgentID string
	NoteID  string
	// Seq orders the chunks of one note.
	Seq int
	// Sealed is the caller's sealed payload, stored as given.
	Sealed []byte
}

func (n MemoryNote) validate() error {
	var errs []error
	if err := checkMemoryKey(n.ID, n.AgentID); err != nil {
		errs = append(errs, err)
	}
	if n.UpdatedAt.IsZero() {
		errs = append(errs, errors.New("zero update time"))
	}
	if err := checkSealed(n.Sealed); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func checkMemoryKey(id, agentID string) error {
	var errs []error
	if id == "" {
		errs = append(errs, errors.New("empty row id"))
	} else if len(id) > 64 {
		errs = append(errs, errors.New("row id longer than 64 bytes"))
	}
	if agentID == "" {
		errs = append(errs, errors.New("empty agent id"))
	} else if len(agentID) > 64 {
		errs = append(errs, errors.New("agent id longer than 64 bytes"))
	}
	return errors.Join(errs...)
}

// MemoryNotes returns the note rows of agentID, ordered by id.
func (db *DB) MemoryNotes(ctx context.Context, agentID string) ([]MemoryNote, error) {
	rows, err := db.r.QueryContext(ctx,
		`SELECT id, agent_id, updated_at, sealed FROM memory_notes WHERE agent_id = ? ORDER BY id`, agentID)
	if err != nil {
		return nil, fmt.Errorf("list memory notes: %w", err)
	}
	defer rows.Close()
	var out []MemoryNote
	for rows.Next() {
		var (
			n       MemoryNote
			updated int64
		)
		if err := rows.Scan(&n.ID, &n.AgentID, &updated, &n.Sealed); err != nil {
			return nil, fmt.Errorf("list memory notes: %w", err)
		}
		n.UpdatedAt = time.Unix(0, updated).UTC()
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list memory notes: %w", err)
	}
	return out, nil
}

// CountMemoryChunks returns the number of chunk rows of agentID, so a
// caller can size what it builds from them before streaming them.
func (db *DB) CountMemoryChunks(ctx context.Context, agentID string) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM memory_chunks WHERE agent_id = ?`, agentID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count memory chunks: %w", err)
	}
	return n, nil
}

// EachMemoryChunk calls fn for every chunk row of agentID in id order,
// streaming them: an agent can have a hundred thousand chunks, which need
// not all sit in memory in sealed form while they are opened. An error from
// fn stops the scan and is returned as it is.
func (db *DB) EachMemoryChunk(ctx context.Context, agentID string, fn func(MemoryChunk) error) error {
	rows, err := db.r.QueryContext(ctx,
		`SELECT id, agent_id, note_id, seq, sealed FROM memory_chunks WHERE agent_id = ? ORDER BY id`, agentID)
	if err != nil {
		return fmt.Errorf("list memory chunks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c MemoryChunk
		if err := rows.Scan(&c.ID, &c.AgentID, &c.NoteID, &c.Seq, &c.Sealed); err != nil {
			return fmt.Errorf("list memory chunks: %w", err)
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list memory chunks: %w", err)
	}
	return nil
}

// MemoryChunksOf returns the chunk rows of one note in seq order.
func (db *DB) MemoryChunksOf(ctx context.Context, noteID string) ([]MemoryChunk, error) {
	rows, err := db.r.QueryContext(ctx,
		`SELECT id, agent_id, note_id, seq, sealed FROM memory_chunks WHERE note_id = ? ORDER BY seq, id`, noteID)
	if err != nil {
		return nil, fmt.Errorf("list memory chunks of note: %w", err)
	}
	defer rows.Close()
	var out []MemoryChunk
	for rows.Next() {
		var c MemoryChunk
		if err := rows.Scan(&c.ID, &c.AgentID, &c.NoteID, &c.Seq, &c.Sealed); err != nil {
			return nil, fmt.Errorf("list memory chunks of note: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list memory chunks of note: %w", err)
	}
	return out, nil
}

// PutMemoryNote stores note (inserting it, or updating the row with the same
// id and agent) and replaces all of its chunks with chunks, in one
// transaction: a search index rebuilt from the database never sees a note
// with half of its old chunks and half of its new ones. The chunks' ID,
// AgentID and NoteID fields are ignored (the note's are used); it returns the
// ids the database assigned, in the order of chunks. Updating a note that
// belongs to another agent fails and changes nothing.
func (db *DB) PutMemoryNote(ctx context.Context, note MemoryNote, chunks []MemoryChunk) ([]int64, error) {
	if err := note.validate(); err != nil {
		return nil, fmt.Errorf("put memory note: %w", err)
	}
	for i, c := range chunks {
		if err := checkSealed(c.Sealed); err != nil {
			return nil, fmt.Errorf("put memory note: chunk %d: %w", i, err)
		}
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("put memory note: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// ON CONFLICT DO UPDATE rather than REPLACE: REPLACE deletes the old row
	// first, and a delete cascades to chunks of the note.
	res, err := tx.ExecContext(ctx, `
INSERT INTO memory_notes (id, agent_id, updated_at, sealed) VALUES (?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at, sealed = excluded.sealed
WHERE memory_notes.agent_id = excluded.agent_id`,
		note.ID, note.AgentID, note.UpdatedAt.UnixNano(), note.Sealed)
	if err != nil {
		return nil, fmt.Errorf("put memory note: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return nil, fmt.Errorf("put memory note: note %s belongs to another agent", note.ID)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM memory_chunks WHERE note_id = ?`, note.ID); err != nil {
		return nil, fmt.Errorf("put memory note: delete old chunks: %w", err)
	}
	stmt, err := tx.PrepareContext(ctx,
		`INSERT INTO memory_chunks (agent_id, note_id, seq, sealed) VALUES (?, ?, ?, ?) RETURNING id`)
	if err != nil {
		return nil, fmt.Errorf("put memory note: %w", err)
	}
	defer stmt.Close()
	ids := make([]int64, len(chunks))
	for i, c := range chunks {
		if err := stmt.QueryRowContext(ctx, note.AgentID, note.ID, c.Seq, c.Sealed).Scan(&ids[i]); err != nil {
			return nil, fmt.Errorf("put memory note: chunk %d: %w", i, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("put memory note: %w", err)
	}
	return ids, nil
}

// DeleteMemoryNotes deletes the given notes of agentID and their chunks in
// one transaction and returns how many notes existed. Ids of other agents
// are not touched.
func (db *DB) DeleteMemoryNotes(ctx context.Context, agentID string, ids ...string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("delete memory notes: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	n := 0
	for _, id := range ids {
		// Chunks go explicitly too, so orphans of a note row that was
		// never stored (or damaged and removed) cannot survive.
		if _, err := tx.ExecContext(ctx, `DELETE FROM memory_chunks WHERE note_id = ? AND agent_id = ?`, id, agentID); err != nil {
			return 0, fmt.Errorf("delete memory notes: %w", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM memory_notes WHERE id = ? AND agent_id = ?`, id, agentID)
		if err != nil {
			return 0, fmt.Errorf("delete memory notes: %w", err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("delete memory notes: %w", err)
		}
		n += int(k)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("delete memory notes: %w", err)
	}
	return n, nil
}

// DeleteMemoryChunks deletes single chunk rows of agentID (a damaged row the
// caller could not open) and returns how many existed.
func (db *DB) DeleteMemoryChunks(ctx context.Context, agentID string, ids ...int64) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("delete memory chunks: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	n := 0
	for _, id := range ids {
		res, err := tx.ExecContext(ctx, `DELETE FROM memory_chunks WHERE id = ? AND agent_id = ?`, id, agentID)
		if err != nil {
			return 0, fmt.Errorf("delete memory chunks: %w", err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("delete memory chunks: %w", err)
		}
		n += int(k)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("delete memory chunks: %w", err)
	}
	return n, nil
}

// DeleteAgentMemory deletes every memory note and chunk of agentID (the
// agent was removed, or its memory is rebuilt from scratch) and returns the
// number of notes deleted.
func (db *DB) DeleteAgentMemory(ctx context.Context, agentID string) (int, error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("delete agent memory: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `DELETE FROM memory_chunks WHERE agent_id = ?`, agentID); err != nil {
		return 0, fmt.Errorf("delete agent memory: %w", err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM memory_notes WHERE agent_id = ?`, agentID)
	if err != nil {
		return 0, fmt.Errorf("delete agent memory: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete agent memory: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("delete agent memory: %w", err)
	}
	return int(n), nil
}

// rewritePage is how many chunk rows RewriteMemory holds at once. Chunk
// rows carry a sealed vector (several KiB each), so the whole table is
// never loaded at once.
const rewritePage = 256

// RewriteMemory passes every sealed value of the memory tables (all agents)
// through fn and stores what it returns, in one transaction, like
// RewriteChannelAccess: it seals the rows when a vault is created and
// reseals them on rekey. fn returning the value unchanged skips the row; an
// error from fn aborts and changes nothing. It returns the number of rows
// rewritten. The caller should Scrub afterwards.
func (db *DB) RewriteMemory(ctx context.Context, fn func(stored []byte) ([]byte, error)) (int, error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("rewrite memory: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	n, err := rewriteTable(ctx, tx, "memory_notes", fn)
	if err != nil {
		return 0, fmt.Errorf("rewrite memory: memory_notes: %w", err)
	}
	k, err := rewriteChunks(ctx, tx, fn)
	if err != nil {
		return 0, fmt.Errorf("rewrite memory: memory_chunks: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("rewrite memory: %w", err)
	}
	return n + k, nil
}

// rewriteChunks is rewriteTable for memory_chunks, paged by id so memory use
// stays bounded however many chunks there are.
func rewriteChunks(ctx context.Context, tx *sql.Tx, fn func([]byte) ([]byte, error)) (int, error) {
	type value struct {
		id     int64
		sealed []byte
	}
	n := 0
	after := int64(-1 << 63)
	for {
		rows, err := tx.QueryContext(ctx,
			`SELECT id, sealed FROM memory_chunks WHERE id > ? ORDER BY id LIMIT ?`, after, rewritePage)
		if err != nil {
			return 0, err
		}
		var page []value
		for rows.Next() {
			var v value
			if err := rows.Scan(&v.id, &v.sealed); err != nil {
				rows.Close()
				return 0, err
			}
			page = append(page, v)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return 0, err
		}
		if len(page) == 0 {
			return n, nil
		}
		for _, v := range page {
			out, err := fn(v.sealed)
			if err != nil {
				return 0, fmt.Errorf("row %d: %w", v.id, err)
			}
			if string(out) == string(v.sealed) {
				continue
			}
			if err := checkSealed(out); err != nil {
				return 0, fmt.Errorf("row %d: %w", v.id, err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE memory_chunks SET sealed = ? WHERE id = ?`, out, v.id); err != nil {
				return 0, err
			}
			n++
		}
		after = page[len(page)-1].id
	}
}
