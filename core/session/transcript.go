package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"

	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/durable"
)

// ErrClosed is returned by calls on a closed transcript, session or manager.
var ErrClosed = errors.New("session: closed")

// ErrRecordNotFound is returned by Page when the before id is not in the
// transcript.
var ErrRecordNotFound = errors.New("record not found")

// defaultPageLimit is Page's limit when the caller gives none.
const defaultPageLimit = 200

// Transcript is an append-only JSONL file of chat.Record, one encoded record
// per line. It is safe for concurrent use.
//
// Durability: each Append is a single write() of whole lines followed by
// fsync, so a crash can only leave a torn tail, which OpenTranscript cuts off.
type Transcript struct {
	path  string
	codec LineCodec

	mu       sync.Mutex
	f        *os.File
	size     int64 // bytes of whole, synced lines; the next write goes here
	err      error // sticky failure after which the file state is unknown
	repaired int64
	// cache holds the decoded records once the whole file read cleanly, so
	// a run does not re-read and re-decode its history every time. This
	// process is the only writer (the instance lock guarantees it), so
	// Append keeps it current.
	cache []chat.Record
	// unsynced is set while AppendBuffered lines await an fsync.
	unsynced bool
}

// OpenTranscript opens the transcript at path, creating it (mode 0600, parent
// directories 0700) if missing. If the last line is torn (no trailing newline)
// or cannot be decoded, it is truncated away and every earlier line is kept;
// Repaired reports how many bytes were dropped.
func OpenTranscript(path string, codec LineCodec) (*Transcript, error) {
	if codec == nil {
		return nil, errors.New("open transcript: nil codec")
	}
	f, _, err := durable.OpenAppendOnly(path)
	if err != nil {
		return nil, fmt.Errorf("open transcript %s: %w", path, err)
	}
	t := &Transcript{path: path, codec: codec, f: f}
	if err := t.repair(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("open transcript %s: %w", path, err)
	}
	return t, nil
}

// repair cuts off what a crash can leave behind: an unterminated last line
// that does not decode (a torn append), or a last line of zero bytes (a
// block the filesystem allocated but never wrote). A complete last line
// that does not decode is kept: that is a locked vault or a wrong key as
// often as damage, and readers report it. An unterminated line that does
// decode (a file from elsewhere without a final newline) gets its newline.
func (t *Transcript) repair() error {
	fi, err := t.f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	good, terminate, err := t.lastGoodEnd(size)
	if err != nil {
		return err
	}
	switch {
	case terminate:
		if _, err := t.f.WriteAt([]byte{'\n'}, size); err != nil {
			return fmt.Errorf("terminate last line: %w", err)
		}
		if err := t.f.Sync(); err != nil {
			return fmt.Errorf("sync after terminating last line: %w", err)
		}
		good = size + 1
	case good < size:
		if err := t.f.Truncate(good); err != nil {
			return fmt.Errorf("truncate torn tail: %w", err)
		}
		if err := t.f.Sync(); err != nil {
			return fmt.Errorf("sync after truncate: %w", err)
		}
		t.repaired = size - good
	}
	t.size = good
	return nil
}

// lastGoodEnd returns the offset just past the last line to keep, and
// whether that line is complete but lacks its newline. Only the final line
// is examined: a bad line in the middle cannot come from a torn append, so
// it is left for readers to report rather than destroyed.
func (t *Transcript) lastGoodEnd(size int64) (end int64, terminate bool, err error) {
	if size == 0 {
		return 0, false, nil
	}
	var last [1]byte
	if _, err := t.f.ReadAt(last[:], size-1); err != nil {
		return 0, false, err
	}
	unterminated := last[0] != '\n'
	lineEnd := size
	if !unterminated {
		lineEnd = size - 1
	}
	nl, err := durable.LastNewline(t.f, lineEnd)
	if err != nil {
		return 0, false, err
	}
	start := nl + 1
	n := lineEnd - start
	if n > MaxLineLen {
		return start, false, nil
	}
	line := make([]byte, n)
	if _, err := t.f.ReadAt(line, start); err != nil {
		return 0, false, err
	}
	if bytes.IndexByte(line, 0) >= 0 {
		return start, false, nil // zero-filled block from a crash
	}
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if !unterminated {
		return size, false, nil
	}
	if len(line) > 0 {
		if _, err := decodeRecord(line, t.codec); err == nil {
			return size, true, nil
		}
	}
	return start, false, nil
}

// Repaired returns how many bytes of torn tail OpenTranscript truncated.
func (t *Transcript) Repaired() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.repaired
}

// Path returns the transcript's file path.
func (t *Transcript) Path() string { return t.path }

// Append validates and encodes recs, writes them with one write() of whole
// lines and fsyncs. When it returns nil every record, and every record an
// earlier AppendBuffered wrote, is durable. On failure the file is cut back
// to where it was; if even that fails, or fsync fails (after which the
// kernel may have dropped the dirty pages), the transcript refuses further
// appends until it is reopened, which repairs the tail.
func (t *Transcript) Append(recs ...chat.Record) error { return t.write(recs, true) }

// AppendBuffered is Append without the fsync: the records are written (and
// readable) at once, and become durable with the next Append, or Close. A
// run uses it for its opening user record so that one fsync at the end of
// the turn covers both; a crash before then can only lose that unfinished
// turn, which was never acknowledged.
func (t *Transcript) AppendBuffered(recs ...chat.Record) error { return t.write(recs, false) }

func (t *Transcript) write(recs []chat.Record, sync bool) error {
	if len(recs) == 0 {
		return nil
	}
	var buf []byte
	stored := make([]chat.Record, len(recs))
	for i, r := range recs {
		line, err := encodeRecord(r, t.codec)
		if err != nil {
			return fmt.Errorf("append to transcript %s: %w", t.path, err)
		}
		buf = append(buf, line...)
		// The cache must hold exactly what a re-read would return (JSON
		// compacts raw arguments, drops monotonic clock readings...).
		if err := roundTrip(r, &stored[i]); err != nil {
			return fmt.Errorf("append to transcript %s: %w", t.path, err)
		}
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f == nil {
		return fmt.Errorf("append to transcript %s: %w", t.path, ErrClosed)
	}
	if t.err != nil {
		return fmt.Errorf("append to transcript %s: an earlier write failed, so the session is reopened (and repaired) on its next use: %w", t.path, t.err)
	}
	if _, err := t.f.WriteAt(buf, t.size); err != nil {
		if terr := t.f.Truncate(t.size); terr != nil {
			t.err = errors.Join(err, terr)
		}
		return fmt.Errorf("append to transcript %s: %w", t.path, err)
	}
	t.size += int64(len(buf))
	if t.cache != nil {
		t.cache = append(t.cache, stored...)
	}
	if !sync {
		t.unsynced = true
		return nil
	}
	if err := t.f.Sync(); err != nil {
		t.err = err
		t.cache = nil // what it holds may not be on disk
		return fmt.Errorf("sync transcript %s: %w", t.path, err)
	}
	t.unsynced = false
	return nil
}

// Records returns every readable record, oldest first. If some lines cannot
// be read, it returns the readable records together with an error joining one
// *LineError per bad line (errors.Is sees their causes, e.g. a locked vault).
func (t *Transcript) Records() ([]chat.Record, error) {
	t.mu.Lock()
	f, size := t.f, t.size
	if t.cache != nil {
		// A copy of the slice: callers may append to it.
		recs := slices.Clone(t.cache)
		t.mu.Unlock()
		return recs, nil
	}
	t.mu.Unlock()
	if f == nil {
		return nil, fmt.Errorf("read transcript %s: %w", t.path, ErrClosed)
	}
	// Only the synced prefix is read, so concurrent appends need no lock.
	recs, errs := ReadRecords(io.NewSectionReader(f, 0, size), t.codec)
	if len(errs) > 0 {
		return recs, fmt.Errorf("read transcript %s: %w", t.path, errors.Join(errs...))
	}
	t.mu.Lock()
	if t.f != nil && t.size == size && t.err == nil {
		t.cache = slices.Clip(slices.Clone(recs))
		if t.cache == nil {
			t.cache = []chat.Record{}
		}
	}
	t.mu.Unlock()
	return recs, nil
}

// Page returns up to limit records (200 when limit <= 0) strictly older than
// the record with id before (from the end when before is ""), oldest first,
// and whether older records remain. Unreadable lines are handled as in
// Records; an unknown before id is an error wrapping ErrRecordNotFound.
func (t *Transcript) Page(before string, limit int) ([]chat.Record, bool, error) {
	recs, err := t.Records()
	if recs == nil && err != nil {
		return nil, false, err
	}
	return page(recs, before, limit, err)
}

func page(recs []chat.Record, before string, limit int, readErr error) ([]chat.Record, bool, error) {
	if limit <= 0 {
		limit = defaultPageLimit
	}
	end := len(recs)
	if before != "" {
		end = -1
		for i := len(recs) - 1; i >= 0; i-- {
			if recs[i].ID == before {
				end = i
				break
			}
		}
		if end < 0 {
			return nil, false, errors.Join(fmt.Errorf("page before %q: %w", before, ErrRecordNotFound), readErr)
		}
	}
	start := max(end-limit, 0)
	return recs[start:end:end], start > 0, readErr
}

// Failed reports whether a write failed in a way that only reopening (which
// repairs the tail) can recover from.
func (t *Transcript) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err != nil
}

// Close closes the file. Later calls return ErrClosed.
func (t *Transcript) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f == nil {
		return nil
	}
	var err error
	if t.unsynced && t.err == nil {
		err = t.f.Sync()
	}
	err = errors.Join(err, t.f.Close())
	t.f = nil
	t.cache = nil
	if err != nil {
		return fmt.Errorf("close transcript %s: %w", t.path, err)
	}
	return nil
}

// roundTrip sets out to rec as it reads back from its JSON form.
func roundTrip(rec chat.Record, out *chat.Record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}
