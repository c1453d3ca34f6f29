package embed

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genos-project/genos/core/store"
	"github.com/genos-project/genos/core/vault"
	"github.com/google/go-cmp/cmp"
)

// cacheEnv is a real genos.db and a real vault, as the daemon wires them.
type cacheEnv struct {
	db     *store.DB
	dbPath string
	v      *vault.Vault
	secret []byte
}

func newCacheEnv(t *testing.T) *cacheEnv {
	t.Helper()
	dir := t.TempDir()
	v, err := vault.Create(filepath.Join(dir, "vault"), []byte("correct horse battery staple"), vault.Options{})
	if err != nil {
		t.Fatalf("vault.Create: %v", err)
	}
	dbPath := filepath.Join(dir, "genos.db")
	db, err := store.Open(t.Context(), dbPath)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return &cacheEnv{db: db, dbPath: dbPath, v: v, secret: bytes.Repeat([]byte{0x5a}, 32)}
}

// clock is a settable Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// countingStore counts the calls that write.
type countingStore struct {
	CacheStore
	mu      sync.Mutex
	touches [][]string
	puts    int
}

func (s *countingStore) TouchEmbeddings(ctx context.Context, keys []string, at time.Time) error {
	s.mu.Lock()
	s.touches = append(s.touches, append([]string(nil), keys...))
	s.mu.Unlock()
	return s.CacheStore.TouchEmbeddings(ctx, keys, at)
}

func (s *countingStore) PutEmbeddings(ctx context.Context, model string, rows map[string][]byte, at time.Time) error {
	s.mu.Lock()
	s.puts++
	s.mu.Unlock()
	return s.CacheStore.PutEmbeddings(ctx, model, rows, at)
}

func (e *cacheEnv) cache(t *testing.T, inner Embedder, o CacheOptions) *Cache {
	t.Helper()
	if o.Store == nil {
		o.Store = e.db
	}
	o.Codec = e.v.InlineCodec()
	o.Secret = e.secret
	c, err := NewCache(inner, o)
	if err != nil {
		t.Fatalf("NewCache: %v", err)
	}
	return c
}

func wantVectors(texts []string, dim int) [][]float32 {
	out := make([][]float32, len(texts))
	for i, s := range texts {
		out[i] = wantVector(s, dim)
	}
	return out
}

func embedOK(t *testing.T, c *Cache, texts []string, dim int) {
	t.Helper()
	got, err := c.Embed(t.Context(), texts)
	if err != nil {
		t.Fatalf("Embed(%q): %v", texts, err)
	}
	if d := cmp.Diff(wantVectors(texts, dim), got); d != "" {
		t.Fatalf("Embed(%q) (-want +got):\n%s", texts, d)
	}
}

func TestCacheHitsMakeNoRequests(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t)
	f := &fakeServer{}
	inner, _ := setup(t, f, OpenAIOptions{})
	c := env.cache(t, inner, CacheOptions{})

	embedOK(t, c, []string{"t1", "t2", "t1", "t3"}, 4)
	reqs := f.recorded()
	if len(reqs) != 1 {
		t.Fatalf("first Embed made %d requests, want 1", len(reqs))
	}
	if d := cmp.Diff([]string{"t1", "t2", "t3"}, reqs[0].Inputs); d != "" {
		t.Errorf("inputs sent, deduplicated (-want +got):\n%s", d)
	}

	embedOK(t, c, []string{"t3", "t1", "t2"}, 4)
	if n := len(f.recorded()); n != 1 {
		t.Errorf("second Embed of the same texts made %d more requests, want 0", n-1)
	}

	// A fresh cache (nothing in memory) answers from the sealed rows.
	c2 := env.cache(t, inner, CacheOptions{MemoryEntries: -1})
	embedOK(t, c2, []string{"t2", "t3", "t1"}, 4)
	if n := len(f.recorded()); n != 1 {
		t.Errorf("Embed through a fresh cache made %d more requests, want 0", n-1)
	}

	// Only the miss goes out.
	embedOK(t, c2, []string{"t1", "t4"}, 4)
	reqs = f.recorded()
	if len(reqs) != 2 || !cmp.Equal(reqs[1].Inputs, []string{"t4"}) {
		t.Errorf("requests = %+v, want a second one with just t4", reqs)
	}
	want := []CacheStats{{Hits: 3, Misses: 3, InnerRequests: 1}, {Hits: 4, Misses: 1, InnerRequests: 1}}
	if d := cmp.Diff(want, []CacheStats{c.Stats(), c2.Stats()}); d != "" {
		t.Errorf("stats (-want +got):\n%s", d)
	}
	if c.Model() != inner.Model() || c.Dimensions() != 4 {
		t.Errorf("Model, Dimensions = %q, %d; want %q, 4", c.Model(), c.Dimensions(), inner.Model())
	}
	if got, err := c.Embed(t.Context(), nil); got != nil || err != nil {
		t.Errorf("Embed(nil) = %v, %v; want nil, nil", got, err)
	}
}

func TestCacheSealedAtRest(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t)
	f := &fakeServer{dim: 16}
	inner, _ := setup(t, f, OpenAIOptions{})
	c := env.cache(t, inner, CacheOptions{})
	texts := []string{"t5 my bank PIN is 8841 zebracanary", "t6 meet Ottoline at the quay zebracanary"}
	got, err := c.Embed(t.Context(), texts)
	if err != nil {
		t.Fatal(err)
	}
	var needles [][]byte
	for i, s := range texts {
		sum := sha256.Sum256([]byte(s))
		keyed := sha256.Sum256([]byte(c.Model() + "\x00" + s))
		needles = append(needles, []byte(s), []byte("zebracanary"), sum[:], []byte(hex.EncodeToString(sum[:])),
			keyed[:], []byte(hex.EncodeToString(keyed[:])), encodeVector(got[i]), encodeVector(got[i])[:16])
	}
	scan := func(when string) {
		for _, p := range []string{env.dbPath, env.dbPath + "-wal"} {
			b, err := os.ReadFile(p)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range needles {
				if bytes.Contains(b, n) {
					t.Errorf("%s: %s holds %q in clear", when, filepath.Base(p), n)
				}
			}
		}
	}
	scan("open")
	if n, err := env.db.CountEmbeddings(t.Context()); err != nil || n != 2 {
		t.Fatalf("CountEmbeddings = %d, %v; want 2 rows to have been scanned", n, err)
	}
	if err := env.db.Close(); err != nil {
		t.Fatal(err)
	}
	scan("closed")
}

func TestCacheDamagedRowIsAMiss(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t)
	f := &fakeServer{}
	inner, _ := setup(t, f, OpenAIOptions{})
	c := env.cache(t, inner, CacheOptions{MemoryEntries: -1})
	embedOK(t, c, []string{"t1", "t2"}, 4)
	k1, k2 := c.key(c.Model(), "t1"), c.key(c.Model(), "t2")

	notUnit, err := env.v.InlineCodec().EncodeValue(encodeVector([]float32{1, 1, 0, 0}))
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{"garbage": []byte("NYXENC1:{not json"), "not a unit vector": notUnit} {
		t.Run(name, func(t *testing.T) {
			if err := env.db.PutEmbeddings(t.Context(), c.Model(), map[string][]byte{k1: bad}, time.Now()); err != nil {
				t.Fatal(err)
			}
			before := len(f.recorded())
			embedOK(t, c, []string{"t1", "t2"}, 4)
			reqs := f.recorded()
			if len(reqs) != before+1 || !cmp.Equal(reqs[len(reqs)-1].Inputs, []string{"t1"}) {
				t.Fatalf("requests after damage = %+v, want one more with just t1", reqs[before:])
			}
			rows, err := env.db.GetEmbeddings(t.Context(), []string{k1, k2})
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(rows[k1], bad) || !bytes.HasPrefix(rows[k1], []byte("NYXENC1:")) {
				t.Errorf("damaged row was not overwritten with a sealed value: %.40q", rows[k1])
			}
			embedOK(t, c, []string{"t1", "t2"}, 4)
			if n := len(f.recorded()); n != before+1 {
				t.Errorf("repaired row still missed (%d more requests)", n-before-1)
			}
		})
	}
}

func TestCacheLockedVault(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t)
	f := &fakeServer{}
	inner, _ := setup(t, f, OpenAIOptions{})
	embedOK(t, env.cache(t, inner, CacheOptions{}), []string{"t1"}, 4)
	env.v.Lock()
	c := env.cache(t, inner, CacheOptions{})
	tests := []struct {
		name      string
		texts     []string
		wantCalls int
	}{
		{"stored row", []string{"t1"}, 0},
		{"new text", []string{"t2"}, 1}, // embedded, then sealing fails
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(f.recorded())
			_, err := c.Embed(t.Context(), tc.texts)
			if !errors.Is(err, vault.ErrLocked) {
				t.Fatalf("Embed with the vault locked = %v, want ErrLocked", err)
			}
			if n := len(f.recorded()) - before; n != tc.wantCalls {
				t.Errorf("made %d requests, want %d", n, tc.wantCalls)
			}
		})
	}
	if n, _ := env.db.CountEmbeddings(t.Context()); n != 1 {
		t.Errorf("%d rows after locked calls, want 1", n)
	}
}

func TestCachePruneAndTouch(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t)
	f := &fakeServer{}
	inner, _ := setup(t, f, OpenAIOptions{})
	clk := &clock{t: time.Unix(1_000_000, 0)}
	cs := &countingStore{CacheStore: env.db}
	c := env.cache(t, inner, CacheOptions{Store: cs, MaxEntries: 3, Now: clk.Now})
	for _, s := range []string{"t0", "t1", "t2", "t3"} {
		embedOK(t, c, []string{s}, 4)
		clk.Add(time.Second)
	}
	if n, _ := env.db.CountEmbeddings(t.Context()); n != 3 {
		t.Fatalf("%d rows with MaxEntries 3", n)
	}
	// A repeat within a minute is served from memory and writes nothing.
	embedOK(t, c, []string{"t1"}, 4)
	if len(cs.touches) != 0 {
		t.Errorf("touches within a minute of the put: %v", cs.touches)
	}
	// Later, the hit records its use once, so t1 outlives t2 and t3.
	clk.Add(2 * time.Minute)
	embedOK(t, c, []string{"t1", "t1"}, 4)
	if d := cmp.Diff([][]string{{c.key(c.Model(), "t1")}}, cs.touches); d != "" {
		t.Errorf("touches (-want +got):\n%s", d)
	}
	embedOK(t, c, []string{"t4", "t5"}, 4)
	rows, err := env.db.GetEmbeddings(t.Context(), []string{c.key(c.Model(), "t1"), c.key(c.Model(), "t2"), c.key(c.Model(), "t3")})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rows[c.key(c.Model(), "t1")]; !ok || len(rows) != 1 {
		t.Errorf("after pruning, t1 present = %v, %d of t1..t3 left; want only t1", ok, len(rows))
	}
	if n, _ := env.db.CountEmbeddings(t.Context()); n != 3 {
		t.Errorf("%d rows with MaxEntries 3", n)
	}
	if cs.puts != 5 {
		t.Errorf("%d put transactions, want one per Embed with misses (5)", cs.puts)
	}
}

func TestCacheModelDimensionChange(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t)
	f := &fakeServer{dim: 4}
	inner, _ := setup(t, f, OpenAIOptions{Model: "same"})
	embedOK(t, env.cache(t, inner, CacheOptions{}), []string{"t1"}, 4)

	// Same model name on the same server, a new dimension, and a client
	// that has not learnt it yet: the stale t1 row is embedded again.
	f.mu.Lock()
	f.dim = 6
	f.mu.Unlock()
	inner2, err := NewOpenAI(OpenAIOptions{BaseURL: strings.TrimSuffix(inner.endpoint, "/embeddings"), Model: "same"})
	if err != nil {
		t.Fatal(err)
	}
	c := env.cache(t, inner2, CacheOptions{})
	before := len(f.recorded())
	embedOK(t, c, []string{"t1", "t9"}, 6)
	reqs := f.recorded()[before:]
	var sent [][]string
	for _, r := range reqs {
		sent = append(sent, r.Inputs)
	}
	if d := cmp.Diff([][]string{{"t9"}, {"t1"}}, sent); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}
	embedOK(t, env.cache(t, inner2, CacheOptions{MemoryEntries: -1}), []string{"t1", "t9"}, 6)
	if n := len(f.recorded()) - before; n != 2 {
		t.Errorf("the re-embedded row was not stored: %d requests, want 2", n)
	}
}

func TestNewCacheValidation(t *testing.T) {
	t.Parallel()
	inner, err := NewOpenAI(OpenAIOptions{BaseURL: "http://127.0.0.1:1/v1", Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	codec := identityCodec{}
	st := &countingStore{}
	long := bytes.Repeat([]byte{1}, 32)
	tests := []struct {
		name  string
		inner Embedder
		o     CacheOptions
		want  string
	}{
		{"no inner", nil, CacheOptions{Store: st, Codec: codec, Secret: long}, "no inner embedder"},
		{"no store", inner, CacheOptions{Codec: codec, Secret: long}, "no store"},
		{"no codec", inner, CacheOptions{Store: st, Secret: long}, "no value codec"},
		{"short secret", inner, CacheOptions{Store: st, Codec: codec, Secret: long[:31]}, "at least 32"},
		{"negative max", inner, CacheOptions{Store: st, Codec: codec, Secret: long, MaxEntries: -1}, "max entries"},
		{"bad memory", inner, CacheOptions{Store: st, Codec: codec, Secret: long, MemoryEntries: -2}, "memory entries"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewCache(tc.inner, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewCache = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

type identityCodec struct{}

func (identityCodec) EncodeValue(p []byte) ([]byte, error) { return p, nil }
func (identityCodec) DecodeValue(s []byte) ([]byte, error) { return s, nil }

func TestCacheKeyIsKeyed(t *testing.T) {
	t.Parallel()
	mk := func(secret byte) *Cache {
		c, err := NewCache(&OpenAI{id: "h/m"}, CacheOptions{Store: &countingStore{}, Codec: identityCodec{},
			Secret: bytes.Repeat([]byte{secret}, 32)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := mk(1), mk(2)
	tests := []struct {
		name string
		x, y string
		same bool
	}{
		{"same input", a.key("m", "hello"), a.key("m", "hello"), true},
		{"other secret", a.key("m", "hello"), b.key("m", "hello"), false},
		{"other model", a.key("m", "hello"), a.key("n", "hello"), false},
		{"text", a.key("m", "hello"), a.key("m", "hello!"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.x == tc.y) != tc.same || len(tc.x) != 64 {
				t.Errorf("keys %s and %s: same = %v, want %v", tc.x, tc.y, tc.x == tc.y, tc.same)
			}
		})
	}
}

func TestCacheConcurrentUse(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t)
	f := &fakeServer{}
	inner, _ := setup(t, f, OpenAIOptions{})
	c := env.cache(t, inner, CacheOptions{MaxEntries: 5, MemoryEntries: 3})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 10 {
				texts := inputs(3 + (g+i)%5)
				got, err := c.Embed(t.Context(), texts)
				if err != nil {
					t.Errorf("Embed: %v", err)
					return
				}
				if d := cmp.Diff(wantVectors(texts, 4), got); d != "" {
					t.Errorf("Embed (-want +got):\n%s", d)
					return
				}
			}
		})
	}
	wg.Wait()
	if n, _ := env.db.CountEmbeddings(t.Context()); n > 5 {
		t.Errorf("%d rows with MaxEntries 5", n)
	}
	if s := c.Stats(); s.InnerRequests == 0 || s.Hits == 0 {
		t.Errorf("stats %+v: want both hits and inner requests", s)
	}
}
