package embed

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/genos-project/genos/core/vault"
)

// Cache implements Embedder.
var _ Embedder = (*Cache)(nil)

// Cache bounds and defaults.
const (
	defaultMaxEntries    = 100000
	defaultMemoryEntries = 1024
	minSecretLen         = 32
	// touchInterval is how stale a row's last use may get before a hit
	// writes it again: a hot text costs one UPDATE a minute, not one per
	// message, and LRU pruning at this granularity is just as good.
	touchInterval = time.Minute
)

// CacheStore persists sealed vectors by key. *store.DB implements it on the
// embed_cache table of genos.db.
type CacheStore interface {
	// GetEmbeddings returns the stored values of keys that exist.
	GetEmbeddings(ctx context.Context, keys []string) (map[string][]byte, error)
	// PutEmbeddings stores (or replaces) rows of model in one transaction.
	PutEmbeddings(ctx context.Context, model string, rows map[string][]byte, usedAt time.Time) error
	// TouchEmbeddings records a use of keys, for LRU pruning.
	TouchEmbeddings(ctx context.Context, keys []string, usedAt time.Time) error
	// PruneEmbeddings keeps the max most recently used rows.
	PruneEmbeddings(ctx context.Context, max int) (int, error)
	// CountEmbeddings returns the number of rows.
	CountEmbeddings(ctx context.Context) (int, error)
}

// ValueCodec seals and opens one stored value; vault.InlineCodec implements
// it. DecodeValue fails with an error wrapping vault.ErrLocked while the vault
// is locked.
type ValueCodec interface {
	EncodeValue(plain []byte) ([]byte, error)
	DecodeValue(stored []byte) ([]byte, error)
}

// CacheOptions configure NewCache.
type CacheOptions struct {
	Store CacheStore // required
	Codec ValueCodec // required: vectors are sealed at rest
	// Secret keys the HMAC that turns (model, text) into a row key; at least
	// 32 bytes, from the vault's secrets. A plain hash of a short message
	// could be reversed by hashing guesses; a keyed one cannot.
	Secret []byte
	// MaxEntries bounds the rows kept on disk (least recently used go
	// first); 0 = 100000.
	MaxEntries int
	// MemoryEntries bounds the recent vectors also kept in memory; 0 = 1024,
	// -1 = none.
	MemoryEntries int
	Logger        *slog.Logger     // optional; nil = discard. Texts are never logged.
	Now           func() time.Time // optional; nil = time.Now
}

// CacheStats counts what the cache did since it was made.
type CacheStats struct {
	Hits          int64 // texts answered from memory or disk
	Misses        int64 // texts that needed the inner embedder (duplicates in one call count once)
	InnerRequests int64 // calls to the inner embedder's Embed
}

// Cache is an Embedder that remembers the vectors of an inner Embedder in a
// sealed store, so a text is embedded once per model, ever (until pruned).
// Row keys are HMAC-SHA256(Secret, model NUL text) in hex; values are the
// little-endian float32 vector sealed by the codec. A stored row that does
// not open or does not hold a usable vector counts as a miss and is
// overwritten; a locked vault is an error (wrapping vault.ErrLocked), never
// a silent miss. It is safe for concurrent use.
type Cache struct {
	inner  Embedder
	store  CacheStore
	codec  ValueCodec
	secret []byte
	max    int
	log    *slog.Logger
	now    func() time.Time
	mem    *lru

	hits, misses, requests atomic.Int64

	// countMu guards count: an estimate (from above) of the rows on disk,
	// -1 until read, so pruning runs only when the limit may be exceeded.
	countMu sync.Mutex
	count   int
}

// NewCache wraps inner with a sealed cache. It does not touch the store.
func NewCache(inner Embedder, o CacheOptions) (*Cache, error) {
	var errs []error
	if inner == nil {
		errs = append(errs, errors.New("no inner embedder"))
	}
	if o.Store == nil {
		errs = append(errs, errors.New("no store"))
	}
	if o.Codec == nil {
		errs = append(errs, errors.New("no value codec: cached vectors must be sealed"))
	}
	if len(o.Secret) < minSecretLen {
		errs = append(errs, fmt.Errorf("the key secret has %d bytes, need at least %d", len(o.Secret), minSecretLen))
	}
	if o.MaxEntries < 0 {
		errs = append(errs, fmt.Errorf("max entries %d: must be positive, or 0 for the default", o.MaxEntries))
	}
	if o.MemoryEntries < -1 {
		errs = append(errs, fmt.Errorf("memory entries %d: use -1 for none, 0 for the default", o.MemoryEntries))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("invalid embedding cache options: %w", err)
	}
	memN := o.MemoryEntries
	switch memN {
	case 0:
		memN = defaultMemoryEntries
	case -1:
		memN = 0
	}
	c := &Cache{
		inner:  inner,
		store:  o.Store,
		codec:  o.Codec,
		secret: append([]byte(nil), o.Secret...),
		max:    cmpOr(o.MaxEntries, defaultMaxEntries),
		log:    o.Logger,
		now:    o.Now,
		mem:    newLRU(memN),
		count:  -1,
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Model is the inner embedder's model.
func (c *Cache) Model() string { return c.inner.Model() }

// Dimensions is the inner embedder's dimension.
func (c *Cache) Dimensions() int { return c.inner.Dimensions() }

// Stats returns the counters so far.
func (c *Cache) Stats() CacheStats {
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), InnerRequests: c.requests.Load()}
}

// Purge drops the vectors held in memory. Call it when the vault locks, so
// no vector outlives the keys that protect it on disk.
func (c *Cache) Purge() { c.mem.purge() }

// key returns the row key of text under model.
func (c *Cache) key(model, text string) string {
	m := hmac.New(sha256.New, c.secret)
	m.Write([]byte(model))
	m.Write([]byte{0})
	m.Write([]byte(text))
	return hex.EncodeToString(m.Sum(nil))
}

// Embed returns one unit vector per text, from memory, from the store or, for
// the rest, from one call to the inner embedder with each distinct text once.
func (c *Cache) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return nil, nil
	}
	model := c.inner.Model()
	now := c.now()
	out := make([][]float32, len(texts))
	keys := make([]string, len(texts))
	byKey := make(map[string][]int, len(texts)) // key -> positions still unanswered
	var touch []string
	for i, t := range texts {
		k := c.key(model, t)
		keys[i] = k
		if v, due := c.mem.get(k, now); v != nil {
			out[i] = v
			if due {
				touch = append(touch, k)
			}
			continue
		}
		byKey[k] = append(byKey[k], i)
	}

	// One query for everything memory did not answer.
	if len(byKey) > 0 {
		ask := make([]string, 0, len(byKey))
		for k := range byKey {
			ask = append(ask, k)
		}
		stored, err := c.store.GetEmbeddings(ctx, ask)
		if err != nil {
			return nil, fmt.Errorf("embedding cache: %w", err)
		}
		damaged := 0
		for k, sealed := range stored {
			v, err := c.open(sealed)
			if errors.Is(err, vault.ErrLocked) {
				return nil, fmt.Errorf("embedding cache: %w", err)
			}
			if err != nil {
				damaged++ // a miss: re-embedded and overwritten below
				continue
			}
			for _, i := range byKey[k] {
				out[i] = v
			}
			c.mem.put(k, v, now)
			touch = append(touch, k)
			delete(byKey, k)
		}
		if damaged > 0 {
			c.log.Warn("embedding cache rows could not be read; embedding their texts again", "rows", damaged)
		}
	}

	if len(byKey) == 0 && checkDims(out) != nil {
		// Hits alone, of different lengths, and no fresh vector to say
		// which is right: embed them all again.
		for i, k := range keys {
			byKey[k] = append(byKey[k], i)
		}
	}
	missed, err := c.embedMisses(ctx, model, texts, keys, byKey, out, now)
	if err != nil {
		return nil, err
	}
	c.hits.Add(int64(len(texts) - missed))
	if len(touch) > 0 {
		// Best effort: a failed touch only makes pruning less accurate.
		if err := c.store.TouchEmbeddings(ctx, touch, now); err != nil {
			c.log.Warn("embedding cache: recording use failed", "err", err)
		}
	}
	return c.copyOut(out), nil
}

// embedMisses embeds the texts at the positions of byKey (one inner call,
// each key once), fills out, stores the new vectors sealed and returns how
// many positions it answered.
func (c *Cache) embedMisses(ctx context.Context, model string, texts, keys []string, byKey map[string][]int,
	out [][]float32, now time.Time) (int, error) {
	rows := make(map[string][]byte, len(byKey))
	missed := make([]bool, len(texts))
	for round := 0; len(byKey) > 0; round++ {
		if round == 2 {
			return 0, fmt.Errorf("embedding cache: %s returned vectors of different lengths", model)
		}
		var ask, askKeys []string
		for i, k := range keys {
			if ps, ok := byKey[k]; ok && ps[0] == i {
				ask = append(ask, texts[i])
				askKeys = append(askKeys, k)
			}
		}
		c.misses.Add(int64(len(ask)))
		c.requests.Add(1)
		vecs, err := c.inner.Embed(ctx, ask)
		if err != nil {
			return 0, err
		}
		if len(vecs) != len(ask) {
			return 0, fmt.Errorf("embedding cache: %s returned %d vectors for %d texts", model, len(vecs), len(ask))
		}
		for j, k := range askKeys {
			sealed, err := c.codec.EncodeValue(encodeVector(vecs[j]))
			if err != nil {
				return 0, fmt.Errorf("embedding cache: seal vector: %w", err)
			}
			rows[k] = sealed
			for _, i := range byKey[k] {
				out[i] = vecs[j]
				missed[i] = true
			}
			c.mem.put(k, vecs[j], now)
		}
		// Hits stored before the inner embedder knew its dimension may be
		// from an older model of the same name: the fresh vectors decide,
		// and hits of another length are embedded again.
		byKey = stale(out, keys, c.inner.Dimensions(), len(vecs[0]))
		for k := range byKey {
			c.mem.remove(k)
		}
	}
	n := 0
	for _, m := range missed {
		if m {
			n++
		}
	}
	if len(rows) == 0 {
		return n, nil
	}
	if err := c.store.PutEmbeddings(ctx, model, rows, now); err != nil {
		return 0, fmt.Errorf("embedding cache: %w", err)
	}
	c.prune(ctx, len(rows))
	return n, nil
}

// stale returns, by key, the positions of out whose vectors do not have the
// expected length: dims, or fresh when dims is not known.
func stale(out [][]float32, keys []string, dims, fresh int) map[string][]int {
	want := cmpOr(dims, fresh)
	res := map[string][]int{}
	for i, v := range out {
		if len(v) != want {
			res[keys[i]] = append(res[keys[i]], i)
		}
	}
	return res
}

// checkDims reports whether all vectors of out have one length.
func checkDims(out [][]float32) error {
	for i, v := range out {
		if len(v) != len(out[0]) {
			return fmt.Errorf("vector %d has %d dimensions, vector 0 has %d", i, len(v), len(out[0]))
		}
	}
	return nil
}

// prune keeps the store within MaxEntries after added new rows.
func (c *Cache) prune(ctx context.Context, added int) {
	c.countMu.Lock()
	defer c.countMu.Unlock()
	if c.count < 0 {
		n, err := c.store.CountEmbeddings(ctx)
		if err != nil {
			c.log.Warn("embedding cache: counting rows failed", "err", err)
			return
		}
		c.count = n
	} else {
		c.count += added // overwrites count too: an estimate from above
	}
	if c.count <= c.max {
		return
	}
	n, err := c.store.PruneEmbeddings(ctx, c.max)
	if err != nil {
		c.log.Warn("embedding cache: pruning failed", "err", err)
		return
	}
	c.count = c.max
	c.log.Debug("embedding cache pruned", "rows", n, "max", c.max)
}

// open unseals and checks one stored vector.
func (c *Cache) open(sealed []byte) ([]float32, error) {
	plain, err := c.codec.DecodeValue(sealed)
	if err != nil {
		return nil, err
	}
	v, err := decodeVector(plain)
	if err != nil {
		return nil, err
	}
	if d := c.inner.Dimensions(); d != 0 && len(v) != d {
		return nil, fmt.Errorf("cached vector has %d dimensions, want %d", len(v), d)
	}
	return v, nil
}

// copyOut gives the caller its own slices, so nothing it does to them
// reaches the vectors shared with the memory cache.
func (c *Cache) copyOut(out [][]float32) [][]float32 {
	res := make([][]float32, len(out))
	for i, v := range out {
		res[i] = append([]float32(nil), v...)
	}
	return res
}

// encodeVector lays v out as little-endian float32.
func encodeVector(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// decodeVector reverses encodeVector and checks that the result is a
// finite unit vector, as every Embedder returns.
func decodeVector(b []byte) ([]float32, error) {
	if len(b) == 0 || len(b)%4 != 0 {
		return nil, fmt.Errorf("cached vector of %d bytes is not a float32 array", len(b))
	}
	v := make([]float32, len(b)/4)
	var sum float64
	for i := range v {
		x := math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, errors.New("cached vector has a non-finite component")
		}
		v[i] = x
		sum += float64(x) * float64(x)
	}
	if math.Abs(sum-1) > 1e-3 {
		return nil, fmt.Errorf("cached vector has squared length %g, not 1", sum)
	}
	return v, nil
}
