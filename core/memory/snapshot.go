package memory

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/genos-project/genos/core/memory/index"
	"github.com/genos-project/genos/core/vault"
)

// The index snapshot (Options.SnapshotPath) lets an unlock load the FTS5
// index instead of tokenising every chunk again, which at 100k chunks of
// 400 tokens is most of the unlock. It is derived data: the rows stay
// authoritative, Open reconciles whatever snapshot it finds with them
// (index.Restore), and a missing, stale, damaged or foreign snapshot only
// costs a rebuild. It holds the notes' vocabulary, so it is sealed with the
// Sealer like the notes (plain only before a vault exists).
//
// It is written in the background, SnapshotDelay after the last change of
// the index, never at Close: Close runs when the vault locks (perhaps as
// the machine goes to sleep) and must not spend seconds sealing a hundred
// MiB; a snapshot that missed the last changes is reconciled at the next
// unlock anyway. Close cancels a write in progress and waits for it, since
// the vault's keys go away after Close.

// DefaultSnapshotDelay is how long the index must stay unchanged before
// its snapshot is rewritten.
const DefaultSnapshotDelay = 30 * time.Second

// snapState is the snapshot bookkeeping of a Memory, guarded by Memory.mu.
type snapState struct {
	gen   uint64 // index changes so far (1 after a load that changed anything)
	saved uint64 // the gen the snapshot file holds
	// noWrite is set when the file on disk must not be replaced: it is
	// sealed and this Memory has no Sealer.
	noWrite  bool
	from     string // how Open built the index: "snapshot" or "rows"
	note     string // why not from the snapshot, or what reconciling it did
	openTook time.Duration
	written  time.Time
	writeErr string

	ctx     context.Context    // cancelled by Close; nil without a path
	cancel  context.CancelFunc // cancels ctx
	writers sync.WaitGroup     // SaveSnapshot calls in progress
	kick    chan struct{}      // a change happened (capacity 1)
	done    chan struct{}      // closed when the background loop ends
}

// snapResult is the snapshot file as read at Open.
type snapResult struct {
	snap *index.Snapshot // nil: rebuild from the rows
	note string          // why snap is nil
	err  error           // fails Open (vault.ErrLocked)
}

// readSnapshot reads and decodes the snapshot file. Only vault.ErrLocked
// is an error: anything else is a reason to rebuild.
func (m *Memory) readSnapshot() snapResult {
	path := m.o.SnapshotPath
	f, size, sealed, err := openSnapFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return snapResult{note: "no snapshot yet"}
	case err != nil:
		m.o.Logger.Warn("memory: index snapshot unreadable; rebuilding the index", "agent", m.o.AgentID, "err", err)
		return snapResult{note: "snapshot unreadable"}
	}
	defer f.Close()
	switch {
	case sealed && m.o.Sealer == nil:
		m.mu.Lock()
		m.snap.noWrite = true
		m.mu.Unlock()
		m.o.Logger.Warn("memory: index snapshot is sealed but no vault was given; ignoring it", "agent", m.o.AgentID)
		return snapResult{note: "snapshot sealed, no vault"}
	case !sealed && m.o.Sealer != nil:
		// Plaintext left from before the vault: it must not stay on disk.
		f.Close()
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			m.o.Logger.Warn("memory: cannot remove a plaintext index snapshot", "agent", m.o.AgentID, "err", err)
		}
		return snapResult{note: "plaintext snapshot removed"}
	}
	snap, err := index.ReadSnapshot(newSnapReader(f, size, m.o.Sealer), size)
	switch {
	case err == nil:
		return snapResult{snap: snap}
	case errors.Is(err, vault.ErrLocked):
		return snapResult{err: fmt.Errorf("read index snapshot: %w", err)}
	case errors.Is(err, index.ErrSnapshotVersion):
		m.o.Logger.Info("memory: index snapshot from another version; rebuilding the index", "agent", m.o.AgentID)
		return snapResult{note: "snapshot from another version"}
	}
	m.o.Logger.Warn("memory: index snapshot damaged or sealed with another key; rebuilding the index", "agent", m.o.AgentID, "err", err)
	return snapResult{note: "snapshot damaged"}
}

// startSnapshots starts the background writer when there is a path.
func (m *Memory) startSnapshots() {
	if m.o.SnapshotPath == "" {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.snap.ctx, m.snap.cancel = ctx, cancel
	m.snap.kick = make(chan struct{}, 1)
	m.snap.done = make(chan struct{})
	go m.snapshotLoop(ctx)
	if m.snap.gen != m.snap.saved {
		m.kickSnapshot()
	}
}

// changed records a change of the index; the caller holds m.mu.
func (m *Memory) changed() {
	m.snap.gen++
	m.kickSnapshot()
}

func (m *Memory) kickSnapshot() {
	if m.snap.kick == nil {
		return
	}
	select {
	case m.snap.kick <- struct{}{}:
	default:
	}
}

// snapshotLoop writes the snapshot once the index has stayed unchanged
// for SnapshotDelay after a change.
func (m *Memory) snapshotLoop(ctx context.Context) {
	defer close(m.snap.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.snap.kick:
		}
		t := time.NewTimer(m.o.SnapshotDelay)
	quiet:
		for {
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-m.snap.kick:
				t.Reset(m.o.SnapshotDelay)
			case <-t.C:
				break quiet
			}
		}
		if err := m.writeSnapshot(ctx); err != nil && ctx.Err() == nil {
			m.o.Logger.Warn("memory: cannot write the index snapshot", "agent", m.o.AgentID, "err", err)
		}
	}
}

// stopSnapshots cancels the writes in progress and waits for them to end;
// the caller has set m.closed, so no new one starts.
func (m *Memory) stopSnapshots() {
	if m.snap.cancel == nil {
		return
	}
	m.snap.cancel()
	<-m.snap.done
	m.snap.writers.Wait()
}

// SaveSnapshot writes the index snapshot now if the index changed since
// the last one (it is otherwise written in the background, SnapshotDelay
// after the last change). It does nothing without Options.SnapshotPath.
// Close cancels it and waits for it.
func (m *Memory) SaveSnapshot(ctx context.Context) error {
	if m.o.SnapshotPath == "" {
		return nil
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	m.snap.writers.Add(1)
	bg := m.snap.ctx
	m.mu.Unlock()
	defer m.snap.writers.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(bg, cancel)()
	return m.writeSnapshot(ctx)
}

// writeSnapshot writes the snapshot file if the index changed since the
// last one. Writes are serialised by snapMu.
func (m *Memory) writeSnapshot(ctx context.Context) error {
	m.snapMu.Lock()
	defer m.snapMu.Unlock()
	m.mu.RLock()
	closed, ix, gen, saved, noWrite := m.closed, m.ix, m.snap.gen, m.snap.saved, m.snap.noWrite
	m.mu.RUnlock()
	switch {
	case closed:
		return ErrClosed
	case noWrite || gen == saved:
		return nil
	}
	start := time.Now()
	err := m.storeSnapshot(ctx, ix)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		if m.closed {
			return ErrClosed
		}
		m.snap.writeErr = err.Error()
		return fmt.Errorf("write index snapshot: %w", err)
	}
	m.snap.saved = max(m.snap.saved, gen)
	m.snap.written = m.o.Now()
	m.snap.writeErr = ""
	m.o.Logger.Debug("memory: index snapshot written", "agent", m.o.AgentID, "took", time.Since(start))
	return nil
}

// storeSnapshot snapshots ix and writes it to the file, sealed.
func (m *Memory) storeSnapshot(ctx context.Context, ix *index.Index) error {
	snap, err := ix.Snapshot(ctx)
	if err != nil {
		return err
	}
	sw, err := newSnapWriter(m.o.SnapshotPath, m.o.Sealer, ctx.Err)
	if err != nil {
		return err
	}
	if _, err := snap.WriteTo(sw); err != nil {
		sw.abort()
		return err
	}
	return sw.commit()
}
