package inbox

import (
	"bytes"
	"crypto/ecdh"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/durable"
)

// Defaults for [Options].
const (
	DefaultMaxMessages  = 10_000
	DefaultMaxBytes     = 64 << 20
	DefaultMaxLineBytes = 1 << 20
)

// Errors callers branch on.
var (
	// ErrFull is returned by Put when the queue holds Options.MaxMessages
	// messages or the next line would take the file past Options.MaxBytes.
	// Nothing was stored: tell the sender to try again later.
	ErrFull = errors.New("inbox full")
	// ErrTooLarge is returned by Put for a message whose sealed line would
	// exceed Options.MaxLineBytes. Nothing was stored.
	ErrTooLarge = errors.New("message too large for the inbox")
	// ErrWrongKey is returned by Drain for a private key that does not
	// belong to the queue's public key. Nothing is read, delivered or
	// removed.
	ErrWrongKey = errors.New("inbox private key does not match its public key")
	// ErrCorrupted is wrapped by every [*CorruptLineError].
	ErrCorrupted = errors.New("corrupted inbox line")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("inbox closed")
)

// Options bounds a queue. Zero fields take the defaults.
type Options struct {
	// MaxMessages caps undelivered messages (default 10,000).
	MaxMessages int
	// MaxBytes caps the queue file's size (default 64 MiB).
	MaxBytes int64
	// MaxLineBytes caps one sealed line, newline excluded (default 1 MiB).
	MaxLineBytes int
	// Logger receives repairs (torn tail, stale cursor) at warn level; it
	// is never given message contents. Nil discards.
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if o.MaxMessages < 0 || o.MaxBytes < 0 || o.MaxLineBytes < 0 {
		return o, errors.New("negative inbox limit")
	}
	if o.MaxMessages == 0 {
		o.MaxMessages = DefaultMaxMessages
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxLineBytes == 0 {
		o.MaxLineBytes = DefaultMaxLineBytes
	}
	if o.MaxLineBytes < sealedLen(0) {
		return o, fmt.Errorf("inbox MaxLineBytes %d is below the smallest sealed line (%d)", o.MaxLineBytes, sealedLen(0))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// Queue is an open inbox file. Put, Len and Close are safe for concurrent
// use, also while a Drain runs; Drains are serialised. One process uses a
// given file at a time (the daemon's instance lock guarantees it).
type Queue struct {
	path       string
	cursorPath string
	badPath    string
	pub        []byte
	pubKey     *ecdh.PublicKey
	opts       Options
	log        *slog.Logger

	drainMu sync.Mutex // held for a whole Drain

	mu       sync.Mutex
	f        *os.File // nil once closed
	size     int64    // end of the whole, synced lines; the next Put writes here
	start    int64    // offset of the first undelivered line (the cursor)
	lineBase int      // lines before start
	count    int      // undelivered lines in [start, size)
	err      error    // sticky failure after which the file state is unknown
}

// Open opens the queue file at path (normally <stateDir>/inbox.jsonl),
// creating it (mode 0600, parent directories 0700) if missing, for messages
// sealed to pub. Its cursor and bad-line files sit next to it: for
// "inbox.jsonl" they are "inbox.cursor" and "inbox.bad.jsonl".
//
// A torn last line (no trailing newline) and a last line containing NUL
// bytes (blocks a crash left zero-filled; no sealed line contains NUL) are
// truncated away: they were never acknowledged. Earlier lines are kept
// whatever they hold; Drain sorts out damaged ones.
func Open(path string, pub []byte, opts Options) (*Queue, error) {
	pubKey, err := parsePublic(pub)
	if err != nil {
		return nil, fmt.Errorf("open inbox %s: %w", path, err)
	}
	if opts, err = opts.withDefaults(); err != nil {
		return nil, fmt.Errorf("open inbox %s: %w", path, err)
	}
	f, _, err := durable.OpenAppendOnly(path)
	if err != nil {
		return nil, fmt.Errorf("open inbox %s: %w", path, err)
	}
	dir, base := filepath.Split(path)
	base = strings.TrimSuffix(base, ".jsonl")
	q := &Queue{
		path:       path,
		cursorPath: filepath.Join(dir, base+".cursor"),
		badPath:    filepath.Join(dir, base+".bad.jsonl"),
		pub:        bytes.Clone(pub),
		pubKey:     pubKey,
		opts:       opts,
		log:        opts.Logger.With("path", path),
		f:          f,
	}
	if err := q.recover(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("open inbox %s: %w", path, err)
	}
	return q, nil
}

// recover repairs the tail, loads the cursor and counts the lines.
func (q *Queue) recover() error {
	fi, err := q.f.Stat()
	if err != nil {
		return err
	}
	orig := fi.Size()
	size, err := goodEnd(q.f, orig)
	if err != nil {
		return err
	}
	if size != orig {
		if err := q.f.Truncate(size); err != nil {
			return fmt.Errorf("truncate torn tail: %w", err)
		}
		if err := q.f.Sync(); err != nil {
			return fmt.Errorf("sync after truncate: %w", err)
		}
		q.log.Warn("inbox: truncated torn tail", "dropped_bytes", orig-size)
	}
	q.size = size
	if q.start, err = q.loadCursor(); err != nil {
		return err
	}
	if q.lineBase, err = countLines(q.f, 0, q.start); err != nil {
		return err
	}
	q.count, err = countLines(q.f, q.start, q.size)
	return err
}

// goodEnd returns the end of the last line to keep of a file of size bytes:
// trailing unterminated or NUL-containing lines go.
func goodEnd(f *os.File, size int64) (int64, error) {
	for size > 0 {
		var last [1]byte
		if _, err := f.ReadAt(last[:], size-1); err != nil {
			return 0, err
		}
		nl, err := durable.LastNewline(f, size-1)
		if err != nil {
			return 0, err
		}
		start := nl + 1
		if last[0] == '\n' {
			nul, err := containsNUL(f, start, size-1)
			if err != nil || !nul {
				return size, err
			}
		}
		size = start
	}
	return 0, nil
}

// containsNUL reports whether f holds a NUL byte in [from, to).
func containsNUL(f *os.File, from, to int64) (bool, error) {
	buf := make([]byte, 64<<10)
	for from < to {
		n := min(int64(len(buf)), to-from)
		if _, err := f.ReadAt(buf[:n], from); err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		if bytes.IndexByte(buf[:n], 0) >= 0 {
			return true, nil
		}
		from += n
	}
	return false, nil
}

// countLines counts the '\n' bytes of f in [from, to).
func countLines(f *os.File, from, to int64) (int, error) {
	buf := make([]byte, 64<<10)
	n := 0
	for from < to {
		k := min(int64(len(buf)), to-from)
		if _, err := f.ReadAt(buf[:k], from); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		n += bytes.Count(buf[:k], []byte{'\n'})
		from += k
	}
	return n, nil
}

// Path returns the queue file's path.
func (q *Queue) Path() string { return q.path }

// Len returns how many messages are waiting to be delivered.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.count
}

// Put seals in to the queue's public key and appends it as one line with one
// write, then fsyncs: when Put returns nil the message is durable and will be
// delivered by a later Drain. It returns an error wrapping [ErrFull] or
// [ErrTooLarge] when the message cannot be taken; nothing is stored then.
// After a failed fsync, whose outcome is unknown, Put refuses further
// messages until the queue is reopened, which repairs the tail.
func (q *Queue) Put(in chat.Inbound) error {
	plain, err := marshalInbound(in)
	if err != nil {
		return fmt.Errorf("queue inbound message: %w", err)
	}
	defer clear(plain)
	if n := sealedLen(len(plain)); n > q.opts.MaxLineBytes {
		return fmt.Errorf("queue inbound message: sealed it is %d bytes, over the %d-byte limit: %w",
			n, q.opts.MaxLineBytes, ErrTooLarge)
	}
	line, err := sealLine(q.pubKey, plain)
	if err != nil {
		return fmt.Errorf("queue inbound message: seal: %w", err)
	}
	buf := append(line, '\n')

	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.f == nil:
		return fmt.Errorf("queue inbound message: %w", ErrClosed)
	case q.err != nil:
		return fmt.Errorf("queue inbound message: earlier failure, reopen %s: %w", q.path, q.err)
	case q.count >= q.opts.MaxMessages:
		return fmt.Errorf("queue inbound message: %d messages waiting in %s, try again later: %w",
			q.count, q.path, ErrFull)
	case q.size+int64(len(buf)) > q.opts.MaxBytes:
		return fmt.Errorf("queue inbound message: %s would exceed %d bytes, try again later: %w",
			q.path, q.opts.MaxBytes, ErrFull)
	}
	if _, err := q.f.WriteAt(buf, q.size); err != nil {
		// Cut back whatever part of the line landed so the next write starts
		// on a line boundary; if even that fails, only a reopen can tell.
		if terr := q.f.Truncate(q.size); terr != nil {
			q.err = errors.Join(err, terr)
		}
		return fmt.Errorf("queue inbound message: write %s: %w", q.path, err)
	}
	if err := q.f.Sync(); err != nil {
		q.err = err
		return fmt.Errorf("queue inbound message: sync %s: %w", q.path, err)
	}
	q.size += int64(len(buf))
	q.count++
	return nil
}

// Close closes the file. A Drain in progress stops with [ErrClosed] after
// the message being delivered; later calls return ErrClosed. Closing twice is
// a no-op.
func (q *Queue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.f == nil {
		return nil
	}
	err := q.f.Close()
	q.f = nil
	if err != nil {
		return fmt.Errorf("close inbox %s: %w", q.path, err)
	}
	return nil
}
