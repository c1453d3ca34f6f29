package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/store"
)

// TitleMaxRunes is the longest session title kept.
const TitleMaxRunes = 60

// ErrIndexNotUpdated is wrapped by Session.Append when the records were
// written and synced but the sessions index could not be updated. The
// records must not be appended again.
var ErrIndexNotUpdated = errors.New("records written but session index not updated")

// Option configures a Manager.
type Option func(*Manager)

// ValueCodec seals one database value, such as a session title; the vault's
// inline form (vault.InlineCodec) implements it.
type ValueCodec interface {
	EncodeValue(plain []byte) ([]byte, error)
	DecodeValue(stored []byte) ([]byte, error)
}

// WithValueCodec seals titles with c instead of the line codec.
func WithValueCodec(c ValueCodec) Option {
	return func(m *Manager) { m.values = c }
}

// lineValues adapts a LineCodec to a ValueCodec.
type lineValues struct{ c LineCodec }

func (l lineValues) EncodeValue(p []byte) ([]byte, error) { return l.c.EncodeLine(p) }
func (l lineValues) DecodeValue(s []byte) ([]byte, error) { return l.c.DecodeLine(s) }

// WithLogger sets the logger for repairs and index problems. Message bodies
// are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(m *Manager) { m.log = l }
}

// Manager maps session keys to their row in the sessions index and their
// transcript file under <stateDir>/agents/<agentId>/sessions/<id>.jsonl. Each
// transcript is opened once and shared by every Session handle for its key
// until the last handle is closed. It is safe for concurrent use. It does not
// own db: closing the Manager leaves db open.
type Manager struct {
	dir    string
	db     *store.DB
	codec  LineCodec
	values ValueCodec // titles
	log    *slog.Logger
	now    func() time.Time // test seam

	mu     sync.Mutex
	open   map[string]*sessionState // by Key.String()
	idle   []*sessionState          // open with no handles, least recently used first
	closed bool
}

// maxIdle is how many transcripts without handles stay open (with their
// decoded records cached) so the next run on a busy session skips the
// re-read. Beyond it the least recently used is closed.
const maxIdle = 64

// touchEvery throttles updated_at writes: each is a durable SQLite commit,
// and a run appends several records within milliseconds.
const touchEvery = time.Second

// sessionState is what all handles of one key share.
type sessionState struct {
	key  Key
	skey string
	id   string
	t    *Transcript
	refs int

	titleMu sync.Mutex
	titled  bool

	touchMu   sync.Mutex
	lastTouch time.Time
}

// NewManager returns a manager storing transcripts under stateDir, indexing
// them in db and encoding lines (and, unless WithValueCodec says otherwise,
// titles) with codec.
func NewManager(stateDir string, db *store.DB, codec LineCodec, opts ...Option) *Manager {
	m := &Manager{
		dir:   stateDir,
		db:    db,
		codec: codec,
		log:   slog.New(slog.DiscardHandler),
		now:   time.Now,
		open:  make(map[string]*sessionState),
	}
	for _, o := range opts {
		o(m)
	}
	if m.values == nil && codec != nil {
		m.values = lineValues{codec}
	}
	return m
}

// Session is one handle on an open session. Handles are independent: closing
// one leaves the others usable. A handle is safe for concurrent use.
type Session struct {
	// Key is the session's key.
	Key Key
	// ID is the session id, the transcript's file name without ".jsonl".
	ID string

	m      *Manager
	st     *sessionState
	closed atomic.Bool
}

// Open returns a handle on the session for key, creating its index row (with
// a new random id) and transcript file the first time. Close the handle when
// done so the transcript file can be closed.
func (m *Manager) Open(ctx context.Context, key Key) (*Session, error) {
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	if m.dir == "" || m.db == nil || m.codec == nil {
		return nil, errors.New("open session: manager needs a state dir, a database and a codec")
	}
	skey := key.String()

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("open session: %w", ErrClosed)
	}
	if st := m.open[skey]; st != nil && st.refs == 0 && st.t.Failed() {
		// A broken transcript nobody holds is reopened, which repairs it.
		m.idle = slices.DeleteFunc(m.idle, func(x *sessionState) bool { return x == st })
		delete(m.open, skey)
		if err := st.t.Close(); err != nil {
			m.log.Warn("close failed transcript", "session", st.id, "err", err)
		}
	}
	if st := m.open[skey]; st != nil {
		if st.refs == 0 {
			m.idle = slices.DeleteFunc(m.idle, func(x *sessionState) bool { return x == st })
		}
		st.refs++
		return &Session{Key: key, ID: st.id, m: m, st: st}, nil
	}

	row, err := m.findOrCreate(ctx, key, skey)
	if err != nil {
		return nil, err
	}
	if !validSessionID(row.ID) {
		return nil, fmt.Errorf("open session %s: index holds an unusable session id", row.ID)
	}
	path := filepath.Join(m.dir, "agents", key.AgentID, "sessions", row.ID+".jsonl")
	t, err := OpenTranscript(path, m.codec)
	if err != nil {
		return nil, fmt.Errorf("open session %s: %w", row.ID, err)
	}
	if n := t.Repaired(); n > 0 {
		m.log.Warn("transcript torn tail truncated", "agent", key.AgentID, "session", row.ID, "bytes", n)
	}
	st := &sessionState{key: key, skey: skey, id: row.ID, t: t, refs: 1, titled: row.Title != ""}
	m.open[skey] = st
	return &Session{Key: key, ID: st.id, m: m, st: st}, nil
}

// findOrCreate returns the index row for key, inserting one with a new id if
// there is none. It reads the row back after the upsert because another
// process may have created it first, and its id wins.
func (m *Manager) findOrCreate(ctx context.Context, key Key, skey string) (store.SessionRow, error) {
	row, ok, err := m.db.GetSession(ctx, skey)
	if err != nil {
		return store.SessionRow{}, fmt.Errorf("open session: %w", err)
	}
	if ok {
		return row, nil
	}
	now := m.now()
	peer := key.Peer
	if key.Kind == KindGroup {
		peer = key.Group // a group session's counterpart is the group
	}
	if err := m.db.UpsertSession(ctx, store.SessionRow{
		Key: skey, ID: newSessionID(), AgentID: key.AgentID, Channel: key.Channel, Peer: peer,
		CreatedAt: now, UpdatedAt: now,
	}); err != nil {
		return store.SessionRow{}, fmt.Errorf("open session: %w", err)
	}
	row, ok, err = m.db.GetSession(ctx, skey)
	if err != nil {
		return store.SessionRow{}, fmt.Errorf("open session: %w", err)
	}
	if !ok {
		return store.SessionRow{}, errors.New("open session: index row vanished after insert")
	}
	return row, nil
}

// release drops one handle's reference and closes the transcript with the last.
func (m *Manager) release(st *sessionState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.open[st.skey] != st {
		return nil // Manager.Close already closed it
	}
	st.refs--
	if st.refs > 0 {
		return nil
	}
	if st.t.Failed() {
		// Not kept idle: the next Open reopens and repairs it.
		delete(m.open, st.skey)
		return st.t.Close()
	}
	m.idle = append(m.idle, st)
	if len(m.idle) <= maxIdle {
		return nil
	}
	old := m.idle[0]
	m.idle = m.idle[1:]
	delete(m.open, old.skey)
	// The error belongs to the evicted session, not to this caller.
	if err := old.t.Close(); err != nil {
		m.log.Warn("close idle transcript", "session", old.id, "err", err)
	}
	return nil
}

// Close closes every open transcript; handles still held then fail with
// ErrClosed. It does not close the database.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	var errs []error
	for k, st := range m.open {
		errs = append(errs, st.t.Close())
		delete(m.open, k)
	}
	m.idle = nil
	return errors.Join(errs...)
}

// SetTitle replaces the session's title (normalised and cut to
// TitleMaxRunes; "" clears it so the next user message names the session).
// The title is sealed with the manager's codec.
func (m *Manager) SetTitle(ctx context.Context, key Key, title string) error {
	if err := key.Validate(); err != nil {
		return fmt.Errorf("set title: %w", err)
	}
	title = makeTitle(title)
	stored := ""
	if title != "" {
		enc, err := m.values.EncodeValue([]byte(title))
		if err != nil {
			return fmt.Errorf("set title: %w", err)
		}
		stored = string(enc)
	}
	if err := m.db.SetSessionTitle(ctx, key.String(), stored); err != nil {
		return err
	}
	m.mu.Lock()
	st := m.open[key.String()]
	m.mu.Unlock()
	if st != nil {
		st.titleMu.Lock()
		st.titled = title != ""
		st.titleMu.Unlock()
	}
	return nil
}

// List returns index rows like store.ListSessions, with titles unsealed. A
// title that cannot be unsealed is returned empty and logged.
func (m *Manager) List(ctx context.Context, agentID string, limit int) ([]store.SessionRow, error) {
	rows, err := m.db.ListSessions(ctx, agentID, limit)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		rows[i].Title = m.openTitle(rows[i])
	}
	return rows, nil
}

// Lookup returns the index row for key, with its title unsealed, and whether
// it exists. It creates nothing.
func (m *Manager) Lookup(ctx context.Context, key Key) (store.SessionRow, bool, error) {
	if err := key.Validate(); err != nil {
		return store.SessionRow{}, false, fmt.Errorf("lookup session: %w", err)
	}
	row, ok, err := m.db.GetSession(ctx, key.String())
	if err != nil || !ok {
		return row, ok, err
	}
	row.Title = m.openTitle(row)
	return row, true, nil
}

func (m *Manager) openTitle(row store.SessionRow) string {
	if row.Title == "" {
		return ""
	}
	plain, err := m.values.DecodeValue([]byte(row.Title))
	if err != nil {
		m.log.Warn("session title unreadable", "session", row.ID, "err", err)
		return ""
	}
	return string(plain)
}

// Append writes recs to the transcript (durably, see Transcript.Append),
// names the session after its first user message if it has no title yet, and
// moves its updated_at forward. If the records were written but the index
// update failed, the error wraps ErrIndexNotUpdated.
func (s *Session) Append(ctx context.Context, recs ...chat.Record) error {
	if s.closed.Load() {
		return fmt.Errorf("append to session %s: %w", s.ID, ErrClosed)
	}
	if len(recs) == 0 {
		return nil
	}
	if err := s.st.t.Append(recs...); err != nil {
		return fmt.Errorf("append to session %s: %w", s.ID, err)
	}
	err := errors.Join(s.autoTitle(ctx, recs), s.touch(ctx))
	if err != nil {
		return fmt.Errorf("append to session %s: %w: %w", s.ID, ErrIndexNotUpdated, err)
	}
	return nil
}

// AppendBuffered is Append without waiting for the disk (see
// Transcript.AppendBuffered): the next Append makes it durable.
func (s *Session) AppendBuffered(ctx context.Context, recs ...chat.Record) error {
	if s.closed.Load() {
		return fmt.Errorf("append to session %s: %w", s.ID, ErrClosed)
	}
	if err := s.st.t.AppendBuffered(recs...); err != nil {
		return fmt.Errorf("append to session %s: %w", s.ID, err)
	}
	if err := errors.Join(s.autoTitle(ctx, recs), s.touch(ctx)); err != nil {
		return fmt.Errorf("append to session %s: %w: %w", s.ID, ErrIndexNotUpdated, err)
	}
	return nil
}

// touch moves updated_at forward, at most once per touchEvery per session.
func (s *Session) touch(ctx context.Context) error {
	now := s.m.now()
	s.st.touchMu.Lock()
	defer s.st.touchMu.Unlock()
	if now.Sub(s.st.lastTouch) < touchEvery {
		return nil
	}
	if err := s.m.db.TouchSession(ctx, s.st.skey, now); err != nil {
		return err
	}
	s.st.lastTouch = now
	return nil
}

// autoTitle sets the title from the first user message, once.
func (s *Session) autoTitle(ctx context.Context, recs []chat.Record) error {
	s.st.titleMu.Lock()
	defer s.st.titleMu.Unlock()
	if s.st.titled {
		return nil
	}
	var title string
	for _, r := range recs {
		if r.Role == chat.RoleUser && r.Kind == "" {
			if title = makeTitle(r.Content); title != "" {
				break
			}
		}
	}
	if title == "" {
		return nil
	}
	enc, err := s.m.values.EncodeValue([]byte(title))
	if err != nil {
		return fmt.Errorf("seal title: %w", err)
	}
	// false means another process titled it first; either way it has one now.
	if _, err := s.m.db.InitSessionTitle(ctx, s.st.skey, string(enc)); err != nil {
		return err
	}
	s.st.titled = true
	return nil
}

// Records returns the session's records, oldest first (see Transcript.Records).
func (s *Session) Records() ([]chat.Record, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("read session %s: %w", s.ID, ErrClosed)
	}
	return s.st.t.Records()
}

// Page returns a page of records older than before (see Transcript.Page).
func (s *Session) Page(before string, limit int) ([]chat.Record, bool, error) {
	if s.closed.Load() {
		return nil, false, fmt.Errorf("read session %s: %w", s.ID, ErrClosed)
	}
	return s.st.t.Page(before, limit)
}

// Close releases this handle. The transcript closes with the last handle.
func (s *Session) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.m.release(s.st)
}

// makeTitle turns message text into a one-line title of at most
// TitleMaxRunes runes: whitespace runs become one space, control and format
// characters are dropped.
func makeTitle(text string) string {
	var b strings.Builder
	n := 0
	space := false
	for _, r := range text {
		if n >= TitleMaxRunes {
			break
		}
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case r == unicode.ReplacementChar, unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			continue
		}
		if space {
			if n+1 >= TitleMaxRunes {
				break
			}
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
