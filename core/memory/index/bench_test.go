package index

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// Synthetic corpus for the benchmarks: texts of benchWords words drawn from
// a 20k-word vocabulary with a Zipf distribution (so, like prose, a few
// words are in nearly every chunk), about 400 estimated tokens each, and
// random unit vectors of benchDim dimensions.
const (
	benchWords = 300
	benchDim   = 384
)

type corpus struct {
	r     *rand.Rand
	vocab []string
	zipf  *rand.Zipf
}

func newCorpus(seed uint64) *corpus {
	r := rand.New(rand.NewPCG(seed, 1))
	vocab := make([]string, 20000)
	for i := range vocab {
		b := make([]byte, 2+r.IntN(9))
		for j := range b {
			b[j] = byte('a' + r.IntN(26))
		}
		vocab[i] = string(b)
	}
	return &corpus{r: r, vocab: vocab, zipf: rand.NewZipf(r, 1.1, 2, uint64(len(vocab)-1))}
}

func (c *corpus) text(words int) string {
	var sb strings.Builder
	for w := range words {
		if w > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(c.vocab[c.zipf.Uint64()])
		if w%12 == 11 {
			sb.WriteByte('.')
		}
	}
	return sb.String()
}

func (c *corpus) vector() []float32 { return randUnit(c.r, benchDim) }

func (c *corpus) docs(n int) []Doc {
	docs := make([]Doc, n)
	now := time.Now()
	for i := range docs {
		docs[i] = Doc{ID: int64(i + 1), Source: "memory/bench.md", Text: c.text(benchWords), Vector: c.vector(),
			Time: now.Add(-time.Duration(c.r.IntN(1000)) * time.Hour)}
	}
	return docs
}

// BenchmarkAdd100k measures a bulk load of 100k chunks (the unlock path).
func BenchmarkAdd100k(b *testing.B) {
	docs := newCorpus(1).docs(100000)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		ix, err := New(Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := ix.Add(ctx, docs...); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		ix.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(len(docs))*float64(b.N)/b.Elapsed().Seconds(), "chunks/s")
}

func BenchmarkSearch10k(b *testing.B)  { benchSearch(b, 10000) }
func BenchmarkSearch100k(b *testing.B) { benchSearch(b, 100000) }

// benchSearch measures hybrid searches (4-word Zipf query text, query
// vector, decay and MMR on) and reports the latency percentiles.
func benchSearch(b *testing.B, n int) {
	c := newCorpus(2)
	ctx := context.Background()
	ix, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	if err := ix.Add(ctx, c.docs(n)...); err != nil {
		b.Fatal(err)
	}
	queries := make([]Query, 256)
	for i := range queries {
		queries[i] = Query{Text: c.text(4), Vector: c.vector(), HalfLife: 30 * 24 * time.Hour, MMRLambda: 0.7}
	}
	// Collect the corpus-building garbage now, so the timed loop measures
	// the steady state of an unlocked vault.
	runtime.GC()
	var lat []time.Duration
	i := 0
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if _, err := ix.Search(ctx, queries[i%len(queries)]); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		i++
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// ExampleIndex_Search shows the typical use: build at unlock, search with
// the message's embedding, close at lock.
func ExampleIndex_Search() {
	ctx := context.Background()
	ix, err := New(Options{})
	if err != nil {
		panic(err)
	}
	defer ix.Close()
	_ = ix.Add(ctx,
		Doc{ID: 1, Source: "MEMORY.md", Text: "Prefers tea over coffee."},
		Doc{ID: 2, Source: "memory/2026-11-24.md", Text: "Dentist appointment moved to Friday."},
	)
	hits, _ := ix.Search(ctx, Query{Text: "when is the dentist?", Limit: 5, MinScore: 0.2})
	for _, h := range hits {
		fmt.Printf("%s %.2f\n", h.Source, h.Score)
	}
	// Output: memory/2026-11-24.md 1.00
}

// BenchmarkRestore100k measures Restore from an encoded snapshot of 100k
// chunks (the unlock path with a snapshot) against the same docs.
func BenchmarkRestore100k(b *testing.B) {
	docs := newCorpus(1).docs(100000)
	ctx := context.Background()
	ix, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if err := ix.Add(ctx, docs...); err != nil {
		b.Fatal(err)
	}
	build := time.Since(t0)
	t0 = time.Now()
	snap, err := ix.Snapshot(ctx)
	if err != nil {
		b.Fatal(err)
	}
	took := time.Since(t0)
	ix.Close()
	var buf bytes.Buffer
	t0 = time.Now()
	if _, err := snap.WriteTo(&buf); err != nil {
		b.Fatal(err)
	}
	b.Logf("build %v; snapshot %v, encode %v: %d MiB in %d shards", build, took, time.Since(t0), buf.Len()>>20, snap.Shards())
	enc := buf.Bytes()
	b.ResetTimer()
	for b.Loop() {
		s, err := ReadSnapshot(bytes.NewReader(enc), int64(len(enc)))
		if err != nil {
			b.Fatal(err)
		}
		rix, st, err := Restore(ctx, Options{}, s, docs)
		if err != nil || !st.Used {
			b.Fatalf("restore: %v, %+v", err, st)
		}
		b.StopTimer()
		rix.Close()
		b.StartTimer()
	}
}
