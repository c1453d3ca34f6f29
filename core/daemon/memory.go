package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/genos-project/genos/core/agent"
	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/embed"
	"github.com/genos-project/genos/core/embed/onnx"
	"github.com/genos-project/genos/core/memory"
	"github.com/genos-project/genos/core/memory/index"
	"github.com/genos-project/genos/core/store"
	"github.com/genos-project/genos/core/tools"
)

// embedCacheKeyRef names the secret keying the embedding cache's row keys,
// so a row key reveals nothing about the text without the vault.
const embedCacheKeyRef = "embed.cacheKey"

// memorySnapshotDir holds the sealed snapshots of the memory search index,
// one per agent. It is outside workspace/ on purpose: those are whole sealed
// files, these a sequence of sealed pieces.
const memorySnapshotDir = "memory"

// MemorySnapshotFile is where the sealed snapshot of agentID's memory index
// is kept.
func MemorySnapshotFile(stateDir, agentID string) string {
	return filepath.Join(stateDir, memorySnapshotDir, agentID+".idx")
}

// removeMemorySnapshots deletes every index snapshot: after a rekey or the
// vault's creation they are under the wrong key (or none), and the next
// unlock rebuilds them from the rows.
func removeMemorySnapshots(stateDir string) error {
	paths, err := filepath.Glob(filepath.Join(stateDir, memorySnapshotDir, "*.idx"))
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// embedWait bounds how long a message waits for its embedding: a slow or
// hung embedder must not hold the reply up; the message then goes on with
// keywords only.
const embedWait = 5 * time.Second

// maxEmbedBytes bounds the part of a message that is embedded: embedding
// models read a few hundred tokens at most, and a 1 MiB paste should not
// cost a megabyte upload.
const maxEmbedBytes = 8 << 10

// memoryParts is the engine's memory: notes and their index, the embedder
// (behind the sealed cache) and the tool filter. It also serves as the
// runner's Augmenter and the gateway's memory.* backend.
type memoryParts struct {
	mem      *memory.Memory
	emb      embed.Embedder // the cached embedder; nil without one
	cache    *embed.Cache
	closer   io.Closer // the local ONNX session, when one is loaded
	filter   atomic.Pointer[tools.Filter]
	notice   string // why the embedder is not in use, for status
	prefetch bool
	filterOn bool
	db       *store.DB
	log      *slog.Logger
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	// lastWarn is the last embedding failure logged, so an embedder that
	// is down is reported once, not on every message.
	warnMu   sync.Mutex
	lastWarn string
	// ready is closed when the background sync and filter build are over
	// (for tests and the bench, which must not count their requests).
	ready chan struct{}
}

// openMemory builds the memory of the engine's agent. An embedder that
// cannot be set up (no model file, no key) is reported in the status and
// leaves memory on keywords; only a database or vault failure is an error.
func (d *Daemon) openMemory(ctx context.Context, e *engine, workspace string) (*memoryParts, error) {
	c := e.cfg.Memory
	m := &memoryParts{prefetch: !c.NoPrefetch, filterOn: !c.NoToolFilter, db: d.db, log: d.log.With("part", "memory"),
		ready: make(chan struct{})}
	inner, closer, err := newEmbedder(c, d.opts.StateDir, d.log, e.secrets.Get)
	switch {
	case err != nil:
		m.notice = "the embedder is not in use: " + err.Error() + "; memory search uses keywords only (BM25)"
		m.log.Warn("embedder not available, using keywords only", "err", err)
	case inner != nil:
		secret, err := ensureKey(e.secrets, embedCacheKeyRef, 32, "embedding cache key")
		if err != nil {
			return nil, err
		}
		var codec embed.ValueCodec = plainValues{}
		if d.vault != nil {
			codec = d.vault.InlineCodec()
		}
		m.cache, err = embed.NewCache(inner, embed.CacheOptions{Store: d.db, Codec: codec, Secret: secret, Logger: m.log})
		clear(secret)
		if err != nil {
			if closer != nil {
				closer.Close()
			}
			return nil, err
		}
		m.emb, m.closer = m.cache, closer
	}
	opts := memory.Options{
		AgentID:      e.info.ID,
		Workspace:    workspace,
		DB:           d.db,
		Embedder:     m.emb,
		Logger:       m.log,
		Search:       memory.SearchOptions{HalfLife: halfLife(c)},
		SnapshotPath: MemorySnapshotFile(d.opts.StateDir, e.info.ID),
	}
	if d.vault != nil {
		opts.Sealer, opts.Codec = d.vault, d.vault.InlineCodec()
	}
	if m.mem, err = memory.Open(ctx, opts); err != nil {
		m.closeEmbedder()
		return nil, fmt.Errorf("open memory: %w", err)
	}
	return m, nil
}

// start indexes notes changed since the last unlock and builds the tool
// filter, in the background: both may call a remote embedder, and an
// unlock must not wait on the network. Until the filter is ready every
// allowed tool is offered; search serves the stored index meanwhile.
func (m *memoryParts) start(reg *tools.Registry) {
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	if f, err := tools.NewFilter(ctx, reg.List(), nil, tools.FilterOptions{}); err == nil {
		m.filter.Store(f)
	} else {
		m.log.Warn("tool filter not available", "err", err)
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(m.ready)
		if _, err := m.mem.Sync(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("memory sync failed", "err", err)
		}
		if m.emb == nil || ctx.Err() != nil {
			return
		}
		f, err := tools.NewFilter(ctx, reg.List(), m.emb, tools.FilterOptions{})
		if err != nil {
			if ctx.Err() == nil {
				m.log.Warn("semantic tool filter not available, keeping keywords", "err", err)
			}
			return
		}
		m.filter.Store(f)
	}()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.resync(ctx)
	}()
}

// resyncEvery is how often notes are checked for edits made outside the
// agent (the user's editor, a sync tool); the agent's own writes are
// indexed at once.
const resyncEvery = time.Minute

// resync re-indexes changed notes periodically until ctx ends. A note that
// did not change costs a read and a hash.
func (m *memoryParts) resync(ctx context.Context) {
	select {
	case <-m.ready:
	case <-ctx.Done():
		return
	}
	t := time.NewTicker(resyncEvery)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := m.mem.Sync(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && err.Error() != last:
			m.log.Warn("memory sync failed", "err", err)
			last = err.Error()
		case err == nil:
			last = ""
			if st.Updated+st.Removed > 0 {
				m.log.Debug("memory notes re-indexed", "updated", st.Updated, "removed", st.Removed)
			}
		}
	}
}

// close stops the background work and drops the index and every cached
// vector: it runs before the vault locks.
func (m *memoryParts) close() error {
	if m == nil {
		return nil
	}
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
	var err error
	if m.mem != nil {
		err = m.mem.Close()
	}
	m.closeEmbedder()
	return err
}

func (m *memoryParts) closeEmbedder() {
	if m.cache != nil {
		m.cache.Purge()
	}
	if m.closer != nil {
		if err := m.closer.Close(); err != nil {
			m.log.Warn("closing the local embedder", "err", err)
		}
		m.closer = nil
	}
}

// Augment embeds the message once and uses that one vector for both the
// memory prefetch and the tool filter (agent.Augmenter).
func (m *memoryParts) Augment(ctx context.Context, req agent.AugmentRequest) (agent.Augmentation, error) {
	message, offered := req.Message, req.Offered
	var vec []float32
	if m.emb != nil {
		ectx, cancel := context.WithTimeout(ctx, embedWait)
		vs, err := m.emb.Embed(ectx, []string{clipUTF8(message, maxEmbedBytes)})
		cancel()
		switch {
		case err != nil && ctx.Err() != nil:
			return agent.Augmentation{}, ctx.Err()
		case err != nil:
			// Keywords still work; the vector-only parts sit this one out.
			m.warnOnce("could not embed the message, using keywords for it", err)
		case len(vs) == 1:
			vec = vs[0]
			m.warnOnce("", nil)
		}
	}
	var out agent.Augmentation
	if m.prefetch && req.Memories {
		p, err := m.mem.Prefetch(ctx, message, vec)
		if err != nil {
			return agent.Augmentation{}, err
		}
		out.Memory, out.MemoryTokens = p.Block, p.Tokens
	}
	if f := m.filter.Load(); m.filterOn && f != nil {
		sel := f.Select(message, vec, offered)
		out.Tools, out.ToolTokensSaved = sel.Tools, sel.TokensSaved
	}
	return out, nil
}

// warnOnce logs err unless it is the same as the last one logged; a
// success in between (err nil) resets it.
func (m *memoryParts) warnOnce(msg string, err error) {
	m.warnMu.Lock()
	defer m.warnMu.Unlock()
	if err == nil {
		m.lastWarn = ""
		return
	}
	if err.Error() != m.lastWarn {
		m.lastWarn = err.Error()
		m.log.Warn(msg, "err", err)
	}
}

// newEmbedder builds the configured embedder, or nil when none is; secret
// looks up the API key memory.apiKeyRef names.
func newEmbedder(c config.Memory, stateDir string, log *slog.Logger, secret func(string) (string, bool)) (embed.Embedder, io.Closer, error) {
	switch c.Embedder {
	case "":
		return nil, nil, nil
	case config.EmbedderOpenAI:
		key := ""
		switch {
		case c.APIKeyRef != "":
			v, ok := secret(c.APIKeyRef)
			if !ok {
				return nil, nil, fmt.Errorf("the secret %q named by memory.apiKeyRef does not exist", c.APIKeyRef)
			}
			key = v
		case c.APIKeyEnv != "":
			key = os.Getenv(c.APIKeyEnv)
			if key == "" {
				return nil, nil, fmt.Errorf("the environment variable %s named by memory.apiKeyEnv is empty", c.APIKeyEnv)
			}
		}
		e, err := embed.NewOpenAI(embed.OpenAIOptions{BaseURL: c.BaseURL, APIKey: key, Model: c.Model, Dimensions: c.Dimensions, Logger: log})
		return e, nil, err
	case config.EmbedderONNX:
		e, err := onnx.New(onnx.Options{ModelPath: c.ONNXModelPath(stateDir)})
		if err != nil {
			return nil, nil, err
		}
		return e, e, nil
	}
	return nil, nil, fmt.Errorf("unknown embedder %q", c.Embedder)
}

func halfLife(c config.Memory) time.Duration {
	if c.HalfLifeDays == nil || *c.HalfLifeDays == 0 {
		return 0 // decay off
	}
	return time.Duration(*c.HalfLifeDays) * 24 * time.Hour
}

// ensureKey returns the hex-encoded random key stored as secret ref,
// creating it on first use.
func ensureKey(secrets *config.Secrets, ref string, size int, what string) ([]byte, error) {
	if h, ok := secrets.Get(ref); ok {
		key, err := hex.DecodeString(h)
		if err != nil || len(key) != size {
			return nil, fmt.Errorf("the %s in %s is malformed; delete it and a new one is made", what, secrets.Path())
		}
		return key, nil
	}
	key := make([]byte, size)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("create %s: %w", what, err)
	}
	if err := secrets.Set(ref, hex.EncodeToString(key)); err != nil {
		return nil, fmt.Errorf("store %s: %w", what, err)
	}
	return key, nil
}

// clipUTF8 cuts s to at most n bytes on a rune boundary.
func clipUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Search serves memory.search.
func (m *memoryParts) Search(ctx context.Context, p api.MemorySearchParams) (api.MemorySearchResult, error) {
	mode := index.ModeHybrid
	switch p.Mode {
	case "bm25":
		mode = index.ModeBM25
	case "vector":
		if m.emb == nil {
			return api.MemorySearchResult{}, api.Errorf(api.CodeUnavailable, "vector search needs an embedder; set memory.embedder (see the README)")
		}
		mode = index.ModeVector
	}
	hits, err := m.mem.Search(ctx, memory.SearchRequest{Text: p.Query, Mode: mode, Limit: p.Limit})
	if err != nil {
		return api.MemorySearchResult{}, err
	}
	st := m.mem.Status(ctx)
	res := api.MemorySearchResult{Mode: st.Mode, Notice: m.statusNotice(st)}
	if mode == index.ModeBM25 {
		res.Mode = "bm25"
	} else if mode == index.ModeVector {
		res.Mode = "vector"
	}
	for _, h := range hits {
		res.Hits = append(res.Hits, api.MemoryHit{Rank: h.Rank, Score: h.Score, Source: h.Path,
			StartLine: h.StartLine, EndLine: h.EndLine, Text: h.Text})
	}
	return res, nil
}

// Status serves memory.status.
func (m *memoryParts) Status(ctx context.Context) api.MemoryStatus {
	st := m.mem.Status(ctx)
	out := api.MemoryStatus{Notes: st.Notes, Chunks: st.Chunks, Embedder: st.Embedder, Dimensions: st.Dimensions,
		Mode: st.Mode, Notice: m.statusNotice(st), LastSync: st.LastSync, LastError: st.LastError, Damaged: st.Damaged,
		IndexFrom: st.IndexFrom, IndexNote: st.IndexNote, OpenMillis: st.OpenDuration.Milliseconds(),
		SnapshotSaved: st.SnapshotSaved, SnapshotError: st.SnapshotError}
	if m.cache != nil {
		cs := m.cache.Stats()
		out.CacheHits, out.CacheMisses = int64(cs.Hits), int64(cs.Misses)
		if n, err := m.db.CountEmbeddings(ctx); err == nil {
			out.CacheEntries = n
		}
	}
	return out
}

// Reindex serves memory.reindex.
func (m *memoryParts) Reindex(ctx context.Context) (api.MemoryStatus, error) {
	if _, err := m.mem.Reindex(ctx); err != nil {
		return api.MemoryStatus{}, err
	}
	// A full reindex is what the snapshot saves the next unlock from.
	if err := m.mem.SaveSnapshot(ctx); err != nil {
		m.log.Warn("could not save the memory index snapshot", "err", err)
	}
	return m.Status(ctx), nil
}

// statusNotice prefers the reason the configured embedder is not in use
// over the memory's own notice (which only knows there is none).
func (m *memoryParts) statusNotice(st memory.Status) string {
	if m.notice != "" {
		return m.notice
	}
	return st.Notice
}
