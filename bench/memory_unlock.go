package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/genos-project/genos/core/memory"
	"github.com/genos-project/genos/core/memory/index"
	"github.com/genos-project/genos/core/store"
	"github.com/genos-project/genos/core/vault"
)

// The unlock rows: an agent whose memory holds 100k chunks, sealed at rest
// by a real vault in a real genos.db, goes from locked to searchable. The
// rows are written the way the agent writes them (notes sealed in the
// workspace, then Memory.Sync), and the clock runs over what the gateway
// does at unlock: open the vault with the passphrase, open genos.db,
// memory.Open (open every row, then load the sealed index snapshot and
// reconcile it with the rows, or rebuild the in-memory index without one),
// first search. Both chunk sizes are measured (the labelled-set chunks of
// real daily-note size, and full 400-token chunks, the worst case), each
// cold (no snapshot yet: the first unlock after an upgrade) and warm (the
// snapshot the previous session wrote: the normal case).

// unlockTarget is the target for unlock-to-searchable at 100k.
const unlockTarget = 5 * time.Second

// chunksPerNote is how many "## " sections (one chunk each) a synthetic
// note holds: 100k chunks make 2,000 notes of a few dozen KiB.
const chunksPerNote = 50

// unlockResult is what the unlock step measured, per chunk size.
type unlockResult struct {
	parts []unlockPart
}

// unlockPart is one chunk size measured.
type unlockPart struct {
	set       chunkSet
	chunks    int
	sync      memory.SyncStats
	dbBytes   int64
	cold      unlockTiming  // no snapshot file
	warm      unlockTiming  // with the snapshot the cold session wrote
	save      time.Duration // SaveSnapshot after the cold open
	snapBytes int64
	searches  []time.Duration
}

// unlockTiming is one timed unlock.
type unlockTiming struct {
	unlock  time.Duration // vault.Open + Unlock (one PBKDF2)
	dbOpen  time.Duration // store.Open of the existing genos.db
	memOpen time.Duration // memory.Open: open rows, snapshot or rebuild
	first   time.Duration // the first search
	from    string        // memory.Status.IndexFrom
}

func (t unlockTiming) total() time.Duration { return t.unlock + t.dbOpen + t.memOpen + t.first }

// measureUnlock measures unlock to first search for texts (the labelled-set
// chunks) and for full-size chunks made of them.
func measureUnlock(ctx context.Context, texts []string, load searchLoad) (*unlockResult, error) {
	res := &unlockResult{}
	p, err := measureUnlockPart(ctx, texts, labelledSet(texts), load)
	if err != nil {
		return nil, err
	}
	res.parts = append(res.parts, *p)
	full := fullChunks(texts, len(texts))
	if p, err = measureUnlockPart(ctx, full, fullSet(full), load); err != nil {
		return nil, fmt.Errorf("full-size chunks: %w", err)
	}
	res.parts = append(res.parts, *p)
	return res, nil
}

// unlockEnv is the state dir of one unlock measurement.
type unlockEnv struct {
	pass                   []byte
	vdir, ws, dbPath, snap string
}

// measureUnlockPart writes texts as sealed notes, syncs them into a sealed
// genos.db with timing-only vectors, locks everything, then times unlock
// to the first answered search twice: cold (no index snapshot), after
// which the snapshot is written as the session would in the background,
// and warm (from that snapshot). Searches are timed on the warm Memory.
func measureUnlockPart(ctx context.Context, texts []string, set chunkSet, load searchLoad) (_ *unlockPart, err error) {
	dir, err := os.MkdirTemp("", "genos-bench-unlock-")
	if err != nil {
		return nil, fmt.Errorf("create temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	e := unlockEnv{pass: []byte("bench passphrase, not a secret"), vdir: filepath.Join(dir, "vault"),
		ws: filepath.Join(dir, "workspace"), dbPath: filepath.Join(dir, "genos.db"), snap: filepath.Join(dir, "memory", benchAgent+".idx")}
	res := &unlockPart{set: set}

	v, err := vault.Create(e.vdir, e.pass, vault.Options{})
	if err != nil {
		return nil, err
	}
	if err := writeSealedNotes(e.ws, v, texts); err != nil {
		v.Lock()
		return nil, err
	}
	db, err := store.Open(ctx, e.dbPath)
	if err != nil {
		v.Lock()
		return nil, err
	}
	opts := memory.Options{AgentID: benchAgent, Workspace: e.ws, DB: db, Sealer: v, Codec: v.InlineCodec(), Embedder: timingVectors{}, Now: func() time.Time { return evalNow }}
	m, err := memory.Open(ctx, opts)
	if err == nil {
		res.sync, err = m.Sync(ctx)
		err = errors.Join(err, m.Close())
	}
	err = errors.Join(err, db.Close())
	v.Lock()
	if err != nil {
		return nil, fmt.Errorf("write the sealed rows: %w", err)
	}
	if res.sync.EmbedError != "" || res.sync.Skipped > 0 {
		return nil, fmt.Errorf("write the sealed rows: %d notes skipped, embed error %q", res.sync.Skipped, res.sync.EmbedError)
	}
	res.chunks = res.sync.Chunks
	for _, p := range []string{e.dbPath, e.dbPath + "-wal"} {
		if st, err := os.Stat(p); err == nil {
			res.dbBytes += st.Size()
		}
	}
	// The snapshot path is set as the daemon sets it; the delay keeps the
	// background writer out of the timed searches (SaveSnapshot writes it).
	opts.SnapshotPath, opts.SnapshotDelay = e.snap, time.Hour

	cold, err := timedUnlock(ctx, e, opts, load)
	if err != nil {
		return nil, fmt.Errorf("cold unlock: %w", err)
	}
	res.cold = cold.t
	t0 := time.Now()
	err = cold.m.SaveSnapshot(ctx)
	res.save = time.Since(t0)
	cold.close()
	if err != nil {
		return nil, fmt.Errorf("write the index snapshot: %w", err)
	}
	if st, err := os.Stat(e.snap); err == nil {
		res.snapBytes = st.Size()
	}

	warm, err := timedUnlock(ctx, e, opts, load)
	if err != nil {
		return nil, fmt.Errorf("warm unlock: %w", err)
	}
	defer warm.close()
	res.warm = warm.t
	if res.cold.from != "rows" || res.warm.from != "snapshot" {
		return nil, fmt.Errorf("index built from %q cold and %q warm, want rows and snapshot", res.cold.from, res.warm.from)
	}
	res.searches, err = timeEach(ctx, scaleSearchMax, scaleSearchBudget, func(i int) error {
		_, err := warm.m.Search(ctx, unlockQuery(load, i+1))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return res, nil
}

func unlockQuery(load searchLoad, i int) memory.SearchRequest {
	return memory.SearchRequest{Text: load.texts[i%len(load.texts)], Vector: load.vecs[i%len(load.vecs)], Mode: index.ModeHybrid}
}

// unlocked is a Memory opened by timedUnlock, with what close releases.
type unlocked struct {
	m     *memory.Memory
	t     unlockTiming
	close func()
}

// timedUnlock starts from a collected heap, a locked vault and a closed
// genos.db, and times the way to the first answered search.
func timedUnlock(ctx context.Context, e unlockEnv, opts memory.Options, load searchLoad) (_ *unlocked, err error) {
	heapInUse() // start the clock on a collected heap, as after a fresh start
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			closeAll()
		}
	}()
	t0 := time.Now()
	v, err := vault.Open(e.vdir, vault.Options{})
	if err != nil {
		return nil, err
	}
	closers = append(closers, v.Lock)
	if err := v.Unlock(e.pass); err != nil {
		return nil, err
	}
	t1 := time.Now()
	db, err := store.Open(ctx, e.dbPath)
	if err != nil {
		return nil, err
	}
	closers = append(closers, func() { _ = db.Close() })
	t2 := time.Now()
	opts.DB, opts.Sealer, opts.Codec = db, v, v.InlineCodec()
	m, err := memory.Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	closers = append(closers, func() { _ = m.Close() })
	t3 := time.Now()
	hits, err := m.Search(ctx, unlockQuery(load, 0))
	t4 := time.Now()
	if err != nil {
		return nil, fmt.Errorf("first search: %w", err)
	}
	if len(hits) == 0 {
		return nil, errors.New("first search after unlock found nothing")
	}
	t := unlockTiming{unlock: t1.Sub(t0), dbOpen: t2.Sub(t1), memOpen: t3.Sub(t2), first: t4.Sub(t3), from: m.Status(ctx).IndexFrom}
	return &unlocked{m: m, t: t, close: closeAll}, nil
}

// writeSealedNotes writes texts as dated notes of chunksPerNote sections
// each, sealed with v as memory_write would leave them.
func writeSealedNotes(ws string, v *vault.Vault, texts []string) error {
	if err := os.MkdirAll(filepath.Join(ws, memory.NotesDir), 0o700); err != nil {
		return err
	}
	var b strings.Builder
	for n := 0; n*chunksPerNote < len(texts); n++ {
		day := chunkDate(n).Format("2006-01-02")
		b.Reset()
		fmt.Fprintf(&b, "# %s\n", day)
		for i := n * chunksPerNote; i < min(len(texts), (n+1)*chunksPerNote); i++ {
			fmt.Fprintf(&b, "\n## Entry %d\n\n%s\n", i-n*chunksPerNote+1, texts[i])
		}
		sealed, err := v.SealFile([]byte(b.String()))
		if err != nil {
			return err
		}
		name := fmt.Sprintf("%s-%04d.md", day, n)
		if err := os.WriteFile(filepath.Join(ws, memory.NotesDir, name), sealed, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// unlockRows turns the unlock measurement into table rows.
func unlockRows(r *unlockResult, cores int) []row {
	var rows []row
	for _, p := range r.parts {
		rows = append(rows, unlockPartRows(&p, cores)...)
	}
	return rows
}

func unlockPartRows(r *unlockPart, cores int) []row {
	s := summarize(r.searches)
	size := fmtCount(r.chunks) + " " + r.set.what
	setup := fmt.Sprintf("%d synthetic chunks (%s) written as %d sealed notes and synced with Memory.Sync into a temp genos.db, rows sealed by a real core/vault (InlineCodec), vectors from random 384-dim unit vectors (timing only)",
		r.chunks, r.set.how, (r.chunks+chunksPerNote-1)/chunksPerNote)
	timed := func(t unlockTiming) string {
		return fmt.Sprintf("%s (vault unlock %s, genos.db open %s, memory.Open %s, first hybrid search %s; %d cores)",
			fmtDur(t.total()), fmtDur(t.unlock), fmtShortDur(t.dbOpen), fmtDur(t.memOpen), fmtShortDur(t.first), cores)
	}
	return []row{
		{
			Name:    fmt.Sprintf("memory unlock → first search answered, %s, warm (sealed index snapshot)", size),
			Value:   timed(r.warm),
			Target:  "< " + fmtDur(unlockTarget) + " on 2 cores",
			Verdict: judge(r.warm.total() < unlockTarget),
			Command: "in process: " + setup + "; a first session opened them and wrote the sealed index snapshot (Memory.SaveSnapshot, as it does in the background); then, timed: vault.Open + Unlock, store.Open, memory.Open (open every sealed row while reading and opening the snapshot, load its FTS5 shards, reconcile with the rows), Memory.Search hybrid",
		},
		{
			Name:    fmt.Sprintf("memory unlock → first search answered, %s, cold (no snapshot: first unlock after an upgrade)", size),
			Value:   timed(r.cold),
			Command: "in process: " + setup + "; no index snapshot on disk; then, timed: vault.Open + Unlock, store.Open, memory.Open (open every sealed row, rebuild the in-memory FTS5 + vector index), Memory.Search hybrid. Once per upgrade: the session then writes the snapshot (next row) and later unlocks are warm",
		},
		{
			Name:    fmt.Sprintf("memory index snapshot write, %s", size),
			Value:   fmt.Sprintf("%s (sealed file %s)", fmtDur(r.save), fmtMiB(r.snapBytes)),
			Command: "in process: the cold session's Memory.SaveSnapshot: serialise the FTS5 shards, encode with the manifest, seal in 4 MiB pieces with the vault, write atomically (temp, fsync, rename, dir fsync); runs in the background 30 s after the last index change, never at lock",
		},
		{
			Name:    fmt.Sprintf("memory search p50 / p99 through core/memory, hybrid, %s sealed", size),
			Value:   fmt.Sprintf("%s / %s (max %s, n=%d)", fmtShortDur(s.P50), fmtShortDur(s.P99), fmtShortDur(s.Max), s.N),
			Target:  "p99 < " + fmtDur(searchTarget),
			Verdict: judge(s.P99 < searchTarget),
			Command: fmt.Sprintf("the warm Memory after unlock: Memory.Search back to back (at most %d or %s), mode hybrid, search defaults (limit 5, no recency decay, MMR λ 0.7), labelled query texts with random vectors", scaleSearchMax, scaleSearchBudget),
		},
		{
			Name: fmt.Sprintf("memory sync of %s into sealed rows (first index)", size),
			Value: fmt.Sprintf("%.0f chunks/s (%s; %d notes; genos.db %s)", float64(r.sync.Chunks)/r.sync.Duration.Seconds(),
				fmtDur(r.sync.Duration), r.sync.Notes, fmtMiB(r.dbBytes)),
			Command: "in process: " + setup + "; Memory.Sync timed: open each sealed note, chunk, embed (instant here), seal text and vector, one transaction per note, index",
		},
	}
}
