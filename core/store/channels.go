package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// AllowRow is one peer the owner approved on a channel (by pairing or by
// hand). Like PairingRow, the peer id and display name are sealed by the
// caller into Sealed and the row is keyed by a random ID; the caller matches
// a peer by listing the channel's rows and unsealing them.
type AllowRow struct {
	// ID is random and carries no content.
	ID        string
	Channel   string
	CreatedAt time.Time
	// Sealed is the caller's sealed payload, stored as given.
	Sealed []byte
}

func (r AllowRow) validate() error {
	var errs []error
	if err := checkRowKey(r.ID, r.Channel); err != nil {
		errs = append(errs, err)
	}
	if r.CreatedAt.IsZero() {
		errs = append(errs, errors.New("zero creation time"))
	}
	if err := checkSealed(r.Sealed); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func insertAllow(ctx context.Context, e execer, r AllowRow) error {
	_, err := e.ExecContext(ctx, `INSERT INTO channel_allow (id, channel, created_at, sealed) VALUES (?, ?, ?, ?)`,
		r.ID, r.Channel, r.CreatedAt.UnixNano(), r.Sealed)
	return err
}

// AddChannelAllow inserts r. The store cannot see whether the peer is
// already listed (the peer id is sealed), so the caller checks first.
func (db *DB) AddChannelAllow(ctx context.Context, r AllowRow) error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("add channel allow: %w", err)
	}
	if err := insertAllow(ctx, db.w, r); err != nil {
		return fmt.Errorf("add channel allow: %w", err)
	}
	return nil
}

// ListChannelAllow returns the allowlist rows of channel (of every channel
// when channel is empty), oldest first.
func (db *DB) ListChannelAllow(ctx context.Context, channel string) ([]AllowRow, error) {
	const cols = `SELECT id, channel, created_at, sealed FROM channel_allow`
	var (
		rows *sql.Rows
		err  error
	)
	if channel == "" {
		rows, err = db.r.QueryContext(ctx, cols+` ORDER BY created_at, id`)
	} else {
		rows, err = db.r.QueryContext(ctx, cols+` WHERE channel = ? ORDER BY created_at, id`, channel)
	}
	if err != nil {
		return nil, fmt.Errorf("list channel allow: %w", err)
	}
	defer rows.Close()
	var out []AllowRow
	for rows.Next() {
		var (
			r       AllowRow
			created int64
		)
		if err := rows.Scan(&r.ID, &r.Channel, &created, &r.Sealed); err != nil {
			return nil, fmt.Errorf("list channel allow: %w", err)
		}
		r.CreatedAt = time.Unix(0, created).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list channel allow: %w", err)
	}
	return out, nil
}

// DeleteChannelAllow deletes the allowlist rows with the given ids in one
// transaction and returns how many existed.
func (db *DB) DeleteChannelAllow(ctx context.Context, ids ...string) (int, error) {
	return deleteIDs(ctx, db.w, "channel_allow", "delete channel allow", ids)
}

// RewriteChannelAccess passes every sealed value of the pairing and
// allowlist tables through fn and stores what it returns, all in one
// transaction: it is how the values get sealed when a vault is created, or
// resealed under a new key on rekey. fn returning the value unchanged (same
// bytes) skips the row; an error from fn aborts and changes nothing. It
// returns the number of rows rewritten. The caller should Scrub afterwards so
// the old values leave the file.
func (db *DB) RewriteChannelAccess(ctx context.Context, fn func(stored []byte) ([]byte, error)) (int, error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("rewrite channel access: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	n := 0
	for _, table := range []string{"pairing_requests", "channel_allow"} {
		k, err := rewriteTable(ctx, tx, table, fn)
		if err != nil {
			return 0, fmt.Errorf("rewrite channel access: %s: %w", table, err)
		}
		n += k
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("rewrite channel access: %w", err)
	}
	return n, nil
}

// rewriteTable passes the sealed value of every row of table through fn
// and stores what it returns (see RewriteChannelAccess). Rows are keyed by
// their text id column.
func rewriteTable(ctx context.Context, tx *sql.Tx, table string, fn func([]byte) ([]byte, error)) (int, error) {
	return rewriteSealed(ctx, tx, table, "id", checkSealed, false, fn)
}
