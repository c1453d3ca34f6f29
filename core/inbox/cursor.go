package inbox

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/genos-project/genos/core/durable"
)

// cursor is the content of inbox.cursor: every line up to Offset has been
// delivered, and the line that ends there hashes to SHA256. The hash ties the
// cursor to the file it was written for, so one left behind by a crash after
// the file was emptied or rewritten is recognised as stale instead of
// skipping messages it never saw.
type cursor struct {
	V      int    `json:"v"`
	Offset int64  `json:"offset"`
	SHA256 string `json:"sha256"`
}

// maxCursorFile bounds what loadCursor reads of a damaged cursor file.
const maxCursorFile = 4 << 10

// loadCursor returns the offset of the first undelivered line, 0 when there
// is no valid cursor. A stale or damaged cursor is removed and reported: the
// whole file is delivered again, a repeat but never a loss.
func (q *Queue) loadCursor() (int64, error) {
	f, err := os.Open(q.cursorPath)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read cursor: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxCursorFile+1))
	_ = f.Close()
	if err != nil {
		return 0, fmt.Errorf("read cursor %s: %w", q.cursorPath, err)
	}
	off, why, err := q.checkCursor(b)
	if err != nil {
		return 0, fmt.Errorf("check cursor %s: %w", q.cursorPath, err)
	}
	if why == "" {
		return off, nil
	}
	q.log.Warn("inbox: ignoring stale cursor, undelivered messages may repeat", "reason", why)
	if err := q.removeCursor(); err != nil {
		return 0, err
	}
	return 0, nil
}

// checkCursor returns the cursor's offset if it matches the file, or why
// not; err only for I/O errors.
func (q *Queue) checkCursor(b []byte) (int64, string, error) {
	if len(b) > maxCursorFile {
		return 0, "cursor file too large", nil
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return 0, "undecodable cursor", nil
	}
	want, err := hex.DecodeString(c.SHA256)
	switch {
	case c.V != 1:
		return 0, "unknown cursor version", nil
	case err != nil || len(want) != sha256.Size:
		return 0, "bad cursor hash", nil
	case c.Offset <= 0 || c.Offset > q.size:
		return 0, "cursor beyond the end of the file", nil
	}
	var last [1]byte
	if _, err := q.f.ReadAt(last[:], c.Offset-1); err != nil {
		return 0, "", err
	}
	if last[0] != '\n' {
		return 0, "cursor not at a line boundary", nil
	}
	nl, err := durable.LastNewline(q.f, c.Offset-1)
	if err != nil {
		return 0, "", err
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(q.f, nl+1, c.Offset-1-(nl+1))); err != nil {
		return 0, "", err
	}
	if string(h.Sum(nil)) != string(want) {
		return 0, "cursor does not match the line before it", nil
	}
	return c.Offset, "", nil
}

// writeCursor durably records that every line before off, the last of which
// hashes to sum, has been delivered.
func (q *Queue) writeCursor(off int64, sum []byte) error {
	b, err := json.Marshal(cursor{V: 1, Offset: off, SHA256: hex.EncodeToString(sum)})
	if err != nil {
		return err
	}
	if err := durable.WriteFile(q.cursorPath, b, 0o600); err != nil {
		return fmt.Errorf("record delivery: %w", err)
	}
	return nil
}

// removeCursor deletes the cursor file durably; a missing one is fine.
func (q *Queue) removeCursor() error {
	err := os.Remove(q.cursorPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove cursor: %w", err)
	}
	return durable.SyncDir(filepath.Dir(q.cursorPath))
}
