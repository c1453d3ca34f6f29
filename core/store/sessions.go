package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// defaultListLimit is how many sessions ListSessions returns when the caller
// gives no limit.
const defaultListLimit = 100

// SessionRow is one row of the sessions index: which transcript file belongs
// to a session key and when it was last used.
type SessionRow struct {
	// Key is the session key (see core/session), the row's identity.
	Key string
	// ID names the transcript file; it never changes for a key.
	ID      string
	AgentID string
	Channel string
	// Peer is the direct peer or group id the session talks to, if any.
	Peer string
	// Title is stored as given. core/session seals it with the vault's line
	// codec, since it is taken from what the user wrote.
	Title     string
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (r SessionRow) validate() error {
	switch {
	case r.Key == "":
		return errors.New("empty session key")
	case r.ID == "":
		return errors.New("empty session id")
	case r.AgentID == "":
		return errors.New("empty agent id")
	}
	return nil
}

// UpsertSession inserts r, or, when a row with r.Key exists, moves its
// updated_at forward to r.UpdatedAt and replaces its title when r.Title is not
// empty. The existing ID, agent, channel, peer and creation time are kept, so
// a racing creator cannot repoint a key at another transcript: read the row
// back with GetSession to learn which ID won. Zero times default to now.
func (db *DB) UpsertSession(ctx context.Context, r SessionRow) error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("upsert session: %w", err)
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = time.Now()
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	_, err := db.w.ExecContext(ctx, `
INSERT INTO sessions (key, id, agent_id, channel, peer, title, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
	updated_at = MAX(updated_at, excluded.updated_at),
	title = CASE WHEN excluded.title <> '' THEN excluded.title ELSE title END`,
		r.Key, r.ID, r.AgentID, r.Channel, r.Peer, r.Title, r.CreatedAt.UnixNano(), r.UpdatedAt.UnixNano())
	if err != nil {
		return fmt.Errorf("upsert session: %w", err)
	}
	return nil
}

// GetSession returns the row for key and whether it exists.
func (db *DB) GetSession(ctx context.Context, key string) (SessionRow, bool, error) {
	row := db.r.QueryRowContext(ctx, `
SELECT key, id, agent_id, channel, peer, title, created_at, updated_at
FROM sessions WHERE key = ?`, key)
	r, err := scanSession(row)
	if errors.Is(err, sql.ErrNoRows) {
		return SessionRow{}, false, nil
	}
	if err != nil {
		return SessionRow{}, false, fmt.Errorf("get session: %w", err)
	}
	return r, true, nil
}

// ListSessions returns sessions most recently updated first, only those of
// agentID unless it is empty, at most limit rows (100 when limit <= 0).
func (db *DB) ListSessions(ctx context.Context, agentID string, limit int) ([]SessionRow, error) {
	if limit <= 0 {
		limit = defaultListLimit
	}
	const cols = `SELECT key, id, agent_id, channel, peer, title, created_at, updated_at FROM sessions`
	var (
		rows *sql.Rows
		err  error
	)
	// key breaks ties so the order is stable for sessions touched in the same
	// nanosecond.
	if agentID == "" {
		rows, err = db.r.QueryContext(ctx, cols+` ORDER BY updated_at DESC, key LIMIT ?`, limit)
	} else {
		rows, err = db.r.QueryContext(ctx, cols+` WHERE agent_id = ? ORDER BY updated_at DESC, key LIMIT ?`,
			agentID, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	var out []SessionRow
	for rows.Next() {
		r, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("list sessions: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return out, nil
}

// TouchSession moves the session's updated_at forward to t (never backward,
// so out-of-order touches from concurrent runs keep the latest). It returns an
// error wrapping ErrNotFound when no row has key.
func (db *DB) TouchSession(ctx context.Context, key string, t time.Time) error {
	res, err := db.w.ExecContext(ctx,
		`UPDATE sessions SET updated_at = MAX(updated_at, ?) WHERE key = ?`, t.UnixNano(), key)
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return expectOne(res, "touch session")
}

// SetSessionTitle replaces the session's title. It returns an error wrapping
// ErrNotFound when no row has key.
func (db *DB) SetSessionTitle(ctx context.Context, key, title string) error {
	res, err := db.w.ExecContext(ctx, `UPDATE sessions SET title = ? WHERE key = ?`, title, key)
	if err != nil {
		return fmt.Errorf("set session title: %w", err)
	}
	return expectOne(res, "set session title")
}

// InitSessionTitle sets the session's title only if it has none yet and
// reports whether it did. The check and the write are one statement, so two
// concurrent first messages cannot both name the session.
func (db *DB) InitSessionTitle(ctx context.Context, key, title string) (bool, error) {
	if title == "" {
		return false, errors.New("init session title: empty title")
	}
	res, err := db.w.ExecContext(ctx, `UPDATE sessions SET title = ? WHERE key = ? AND title = ''`, title, key)
	if err != nil {
		return false, fmt.Errorf("init session title: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("init session title: %w", err)
	}
	return n == 1, nil
}

// CountSessions returns the number of sessions in the index.
func (db *DB) CountSessions(ctx context.Context) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count sessions: %w", err)
	}
	return n, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanSession(s scanner) (SessionRow, error) {
	var (
		r                SessionRow
		created, updated int64
	)
	if err := s.Scan(&r.Key, &r.ID, &r.AgentID, &r.Channel, &r.Peer, &r.Title, &created, &updated); err != nil {
		return SessionRow{}, err
	}
	r.CreatedAt = time.Unix(0, created).UTC()
	r.UpdatedAt = time.Unix(0, updated).UTC()
	return r, nil
}

func expectOne(res sql.Result, op string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return nil
}

// SessionTitles returns every session key with its stored (possibly sealed)
// title, for re-sealing them all when the vault is created or rekeyed.
func (db *DB) SessionTitles(ctx context.Context) (map[string]string, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT key, title FROM sessions WHERE title != ''`)
	if err != nil {
		return nil, fmt.Errorf("list session titles: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, t string
		if err := rows.Scan(&k, &t); err != nil {
			return nil, fmt.Errorf("list session titles: %w", err)
		}
		out[k] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list session titles: %w", err)
	}
	return out, nil
}
