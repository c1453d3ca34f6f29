package audit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/genos-project/genos/core/durable"
)

// Log is an open audit log. It is safe for concurrent use; appends are
// serialised. One process writes a given file at a time (the daemon's
// instance lock guarantees it).
//
// Durability: each Append is a single write() of one whole line followed by
// fsync, so a crash can only leave a torn last line, which Open cuts off and
// records as an audit.repaired event.
type Log struct {
	path  string
	codec LineCodec
	now   func() time.Time // test seam

	mu       sync.Mutex
	key      []byte // private copy, zeroed by Close
	f        *os.File
	size     int64  // bytes of whole, synced lines; the next write goes here
	head     Anchor // the last record: the next one continues from it
	err      error  // sticky failure after which the file state is unknown
	repaired int64
}

// Open opens the audit log at path, creating it (mode 0600, parent
// directories 0700) if missing, and continues the chain from its last record.
// key must be KeySize bytes; the log keeps a copy until Close. codec must be
// the one the log was written with.
//
// Before that, a torn last line (no trailing newline) is truncated away, as
// is a last line containing NUL bytes (blocks a crash left zero-filled; no
// encoded line contains NUL). The repair is then appended as an
// audit.repaired event; if that record cannot be encoded (a locked vault),
// Open fails before cutting anything. Any other bad last line is left alone and reported:
// one that does not decode (perhaps only because the vault is locked) or
// whose MAC does not verify (wrapping ErrBadMAC: altered, or the wrong key).
// Open reads only the tail; Verify checks the whole chain.
func Open(path string, key []byte, codec LineCodec) (*Log, error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("open audit log %s: %w", path, err)
	}
	if codec == nil {
		return nil, fmt.Errorf("open audit log %s: nil codec", path)
	}
	f, _, err := durable.OpenAppendOnly(path)
	if err != nil {
		return nil, fmt.Errorf("open audit log %s: %w", path, err)
	}
	l := &Log{path: path, codec: codec, now: time.Now, key: bytes.Clone(key), f: f}
	if err := l.recoverTail(); err != nil {
		clear(l.key)
		_ = f.Close()
		return nil, fmt.Errorf("open audit log %s: %w", path, err)
	}
	return l, nil
}

// recoverTail finds the last good record to continue the chain from. If the
// tail is torn or zero-filled, it truncates it and appends an audit.repaired
// record. That record is encoded before anything is cut, so that a codec that
// cannot encode (a locked vault) leaves the file untouched and the repair is
// recorded by a later Open; only a crash between the cut and the write can
// lose the repair record.
func (l *Log) recoverTail() error {
	fi, err := l.f.Stat()
	if err != nil {
		return err
	}
	orig := fi.Size()
	size, reason, err := l.findTail(orig)
	if err != nil {
		return err
	}
	l.size = size
	if size == orig {
		return nil
	}
	fields := map[string]string{"dropped_bytes": strconv.FormatInt(orig-size, 10), "reason": reason}
	buf, head, err := l.encode(EventRepaired, fields)
	if err != nil {
		return fmt.Errorf("record repair: %w", err)
	}
	if err := l.f.Truncate(size); err != nil {
		return fmt.Errorf("truncate torn tail: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("sync after truncate: %w", err)
	}
	l.repaired = orig - size
	if err := l.write(buf, head); err != nil {
		return fmt.Errorf("record repair: %w", err)
	}
	return nil
}

// findTail returns the end of the last line to keep, why anything after it
// must go, and sets l.head to the last record.
func (l *Log) findTail(size int64) (int64, string, error) {
	var reason string
	l.head = Anchor{Hash: zeroHash}
	for size > 0 {
		var last [1]byte
		if _, err := l.f.ReadAt(last[:], size-1); err != nil {
			return 0, "", err
		}
		nl, err := durable.LastNewline(l.f, size-1)
		if err != nil {
			return 0, "", err
		}
		start := nl + 1 // 0 when there is no earlier line
		if last[0] != '\n' {
			size, reason = start, "torn last line"
			continue
		}
		n := size - 1 - start
		if n > MaxLineLen {
			return 0, "", fmt.Errorf("last line (at byte %d) is longer than %d bytes", start, MaxLineLen)
		}
		line := make([]byte, n)
		if _, err := l.f.ReadAt(line, start); err != nil {
			return 0, "", err
		}
		if bytes.IndexByte(line, 0) >= 0 {
			size, reason = start, "zero-filled last line"
			continue
		}
		rec, _, err := decodeLine(line, l.codec)
		if err != nil {
			return 0, "", fmt.Errorf("last record (at byte %d): %w", start, err)
		}
		if !macOK(l.key, rec.canonical(), rec.Hash) {
			return 0, "", fmt.Errorf("last record (seq %d): %w", rec.Seq, ErrBadMAC)
		}
		l.head = Anchor{Seq: rec.Seq, Hash: rec.Hash}
		break
	}
	return size, reason, nil
}

// Path returns the log's file path.
func (l *Log) Path() string { return l.path }

// Repaired returns how many bytes of torn tail Open truncated.
func (l *Log) Repaired() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.repaired
}

// Head returns the last record's seq and hash (Seq 0 for an empty log): an
// anchor for VerifyAnchor when stored outside the log.
func (l *Log) Head() Anchor {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.head
}

// Append validates e (see the package doc for the rules; overlong values are
// truncated), chains it to the last record, writes it with one write() and
// fsyncs. When it returns nil the record is durable. After a failed write or
// fsync whose outcome is unknown the log refuses further appends until it is
// reopened, which repairs the tail.
func (l *Log) Append(e Event) error {
	name, fields, err := normalize(e, false)
	if err != nil {
		return fmt.Errorf("append to audit log %s: %w", l.path, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.appendLocked(name, fields)
}

func (l *Log) appendLocked(name string, fields map[string]string) error {
	if l.f == nil {
		return fmt.Errorf("append to audit log %s: %w", l.path, ErrClosed)
	}
	if l.err != nil {
		return fmt.Errorf("append to audit log %s: earlier failure, reopen it: %w", l.path, l.err)
	}
	buf, head, err := l.encode(name, fields)
	if err != nil {
		return fmt.Errorf("append to audit log %s: %w", l.path, err)
	}
	if err := l.write(buf, head); err != nil {
		return fmt.Errorf("append to audit log %s: %w", l.path, err)
	}
	return nil
}

// encode builds the next record after l.head and returns its stored line,
// newline included, and the head it becomes once written.
func (l *Log) encode(name string, fields map[string]string) ([]byte, Anchor, error) {
	rec := Record{Seq: l.head.Seq + 1, Time: l.now(), Event: name, Fields: fields, Prev: l.head.Hash}
	rec.Hash = computeMAC(l.key, rec.canonical())
	enc, err := l.codec.EncodeLine(rec.line())
	if err != nil {
		return nil, Anchor{}, fmt.Errorf("encode %s: %w", name, err)
	}
	switch {
	case len(enc) == 0:
		return nil, Anchor{}, errors.New("codec produced an empty line")
	case bytes.IndexByte(enc, '\n') >= 0 || bytes.IndexByte(enc, 0) >= 0:
		return nil, Anchor{}, errors.New("codec produced a newline or NUL")
	case len(enc) > MaxLineLen:
		return nil, Anchor{}, errLineTooLong
	}
	buf := make([]byte, len(enc)+1)
	copy(buf, enc)
	buf[len(enc)] = '\n'
	return buf, Anchor{Seq: rec.Seq, Hash: rec.Hash}, nil
}

// write appends buf with one write() at the end of the synced lines and
// fsyncs, then advances the head.
func (l *Log) write(buf []byte, head Anchor) error {
	if _, err := l.f.WriteAt(buf, l.size); err != nil {
		if terr := l.f.Truncate(l.size); terr != nil {
			l.err = errors.Join(err, terr)
		}
		return err
	}
	if err := l.f.Sync(); err != nil {
		// The kernel may have dropped the dirty pages: whether the line is
		// on disk is unknown until a reopen reads the tail.
		l.err = err
		return fmt.Errorf("sync: %w", err)
	}
	l.size += int64(len(buf))
	l.head = head
	return nil
}

// Close closes the file and zeroes the log's copy of the key. Later Appends
// return ErrClosed; closing twice is a no-op.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	clear(l.key)
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("close audit log %s: %w", l.path, err)
	}
	return nil
}
