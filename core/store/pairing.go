package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// maxSealedValue bounds one sealed column. Rows hold an id, a display name
// and a code; anything near this size was not written by Genos.
const maxSealedValue = 64 << 10

// PairingRow is one pending pairing request: a stranger who wrote to a
// channel and got a code the owner can approve.
//
// Who the stranger is (peer id, display name) and the code are content
// that identifies a person, so the caller seals them into Sealed with the
// vault's value codec; the store never sees them in clear. Sealed values
// cannot be searched, so rows are keyed by a random ID and the caller finds a
// peer or a code by listing a channel's rows (tens at most) and unsealing
// them.
type PairingRow struct {
	// ID is random and carries no content.
	ID        string
	Channel   string
	CreatedAt time.Time
	ExpiresAt time.Time
	// Sealed is the caller's sealed payload, stored as given.
	Sealed []byte
}

func (r PairingRow) validate() error {
	var errs []error
	if err := checkRowKey(r.ID, r.Channel); err != nil {
		errs = append(errs, err)
	}
	if r.CreatedAt.IsZero() || r.ExpiresAt.IsZero() {
		errs = append(errs, errors.New("zero creation or expiry time"))
	} else if !r.ExpiresAt.After(r.CreatedAt) {
		errs = append(errs, errors.New("expiry is not after creation"))
	}
	if err := checkSealed(r.Sealed); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func checkRowKey(id, channel string) error {
	var errs []error
	if id == "" {
		errs = append(errs, errors.New("empty row id"))
	} else if len(id) > 64 {
		errs = append(errs, errors.New("row id longer than 64 bytes"))
	}
	if channel == "" {
		errs = append(errs, errors.New("empty channel"))
	} else if len(channel) > 64 {
		errs = append(errs, errors.New("channel name longer than 64 bytes"))
	}
	return errors.Join(errs...)
}

func checkSealed(b []byte) error {
	switch {
	case len(b) == 0:
		return errors.New("empty sealed value")
	case len(b) > maxSealedValue:
		return fmt.Errorf("sealed value of %d bytes exceeds %d", len(b), maxSealedValue)
	}
	return nil
}

// AddPairing inserts r and, in the same transaction, deletes the pending
// requests named in evict (the oldest ones, when a channel is at its limit of
// pending requests). Either both happen or neither does, so the limit holds
// even if the process dies in between. Evicted ids that no longer exist are
// ignored.
func (db *DB) AddPairing(ctx context.Context, r PairingRow, evict []string) error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("add pairing: %w", err)
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("add pairing: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, id := range evict {
		if _, err := tx.ExecContext(ctx, `DELETE FROM pairing_requests WHERE id = ?`, id); err != nil {
			return fmt.Errorf("add pairing: evict: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `
INSERT INTO pairing_requests (id, channel, created_at, expires_at, sealed) VALUES (?, ?, ?, ?, ?)`,
		r.ID, r.Channel, r.CreatedAt.UnixNano(), r.ExpiresAt.UnixNano(), r.Sealed); err != nil {
		return fmt.Errorf("add pairing: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add pairing: %w", err)
	}
	return nil
}

// ListPairings returns the pending requests of channel (of every channel
// when channel is empty), oldest first, expired ones included: the caller
// decides what expiry means and prunes with DeletePairings.
func (db *DB) ListPairings(ctx context.Context, channel string) ([]PairingRow, error) {
	const cols = `SELECT id, channel, created_at, expires_at, sealed FROM pairing_requests`
	var (
		rows *sql.Rows
		err  error
	)
	// id breaks ties between requests created in the same nanosecond.
	if channel == "" {
		rows, err = db.r.QueryContext(ctx, cols+` ORDER BY created_at, id`)
	} else {
		rows, err = db.r.QueryContext(ctx, cols+` WHERE channel = ? ORDER BY created_at, id`, channel)
	}
	if err != nil {
		return nil, fmt.Errorf("list pairings: %w", err)
	}
	defer rows.Close()
	var out []PairingRow
	for rows.Next() {
		var (
			r                PairingRow
			created, expires int64
		)
		if err := rows.Scan(&r.ID, &r.Channel, &created, &expires, &r.Sealed); err != nil {
			return nil, fmt.Errorf("list pairings: %w", err)
		}
		r.CreatedAt = time.Unix(0, created).UTC()
		r.ExpiresAt = time.Unix(0, expires).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list pairings: %w", err)
	}
	return out, nil
}

// DeletePairings deletes the requests with the given ids in one transaction
// and returns how many existed.
func (db *DB) DeletePairings(ctx context.Context, ids ...string) (int, error) {
	return deleteIDs(ctx, db.w, "pairing_requests", "delete pairings", ids)
}

// ApprovePairing turns a pending request into an allowlist entry in one
// transaction: the request pairingID is deleted and allow inserted. It
// returns an error wrapping ErrNotFound, and changes nothing, when the
// request no longer exists (denied, evicted or approved concurrently).
func (db *DB) ApprovePairing(ctx context.Context, pairingID string, allow AllowRow) error {
	if err := allow.validate(); err != nil {
		return fmt.Errorf("approve pairing: %w", err)
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("approve pairing: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, `DELETE FROM pairing_requests WHERE id = ?`, pairingID)
	if err != nil {
		return fmt.Errorf("approve pairing: %w", err)
	}
	if err := expectOne(res, "approve pairing"); err != nil {
		return err
	}
	if err := insertAllow(ctx, tx, allow); err != nil {
		return fmt.Errorf("approve pairing: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("approve pairing: %w", err)
	}
	return nil
}

// deleteIDs deletes rows of table by id in one transaction and returns how
// many there were. table is always a constant from this package.
func deleteIDs(ctx context.Context, w *sql.DB, table, op string, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	defer func() { _ = tx.Rollback() }()
	n := 0
	for _, id := range ids {
		res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE id = ?`, id)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", op, err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", op, err)
		}
		n += int(k)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	return n, nil
}
