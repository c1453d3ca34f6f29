package memory

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/genos-project/genos/core/store"
	"github.com/genos-project/genos/core/tokens"
)

// benchDims is the vector size of the benchmark rows, that of the small
// local embedding models (MiniLM, bge-small).
const benchDims = 384

// BenchmarkOpen measures unlock-to-searchable: opening every sealed row of
// an agent (vault InlineCodec), decoding it and building the in-memory
// index, either by tokenising every chunk again ("rebuild", also the first
// unlock after an upgrade) or from the sealed index snapshot ("snapshot",
// the normal case). GENOS_MEMORY_BENCH_CHUNKS sets the number of chunks
// (default 10000; the target is under 5 s at 100000 on 2 cores); chunks
// are about 400 tokens, the chunker's target and the worst case.
func BenchmarkOpen(b *testing.B) {
	n := 10000
	if s := os.Getenv("GENOS_MEMORY_BENCH_CHUNKS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n <= 0 {
			b.Fatalf("GENOS_MEMORY_BENCH_CHUNKS=%q", s)
		}
	}
	e := newEnv(b)
	v := newVault(b)
	o := e.options(fixedDims{})
	o.Sealer, o.Codec = v, v.InlineCodec()
	start := time.Now()
	tok := seedRows(b, e.db, o, n)
	b.Logf("seeded %d sealed chunks of %.0f tokens on average in %v", n, tok, time.Since(start).Round(time.Millisecond))
	ctx := context.Background()
	open := func(b *testing.B, o Options, from string) {
		m, err := Open(ctx, o)
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		if st := m.Status(ctx); st.Chunks != n || st.IndexFrom != from {
			b.Fatalf("%d chunks loaded from %q (%s), want %d from %q", st.Chunks, st.IndexFrom, st.IndexNote, n, from)
		}
		hits, err := m.Search(ctx, SearchRequest{Text: "invoice 4242 vendor"})
		if err != nil || len(hits) == 0 {
			b.Fatalf("search: %v, %v", hits, err)
		}
	}
	b.Run("rebuild", func(b *testing.B) {
		for b.Loop() {
			open(b, o, "rows")
		}
		b.ReportMetric(float64(n), "chunks")
	})
	o.SnapshotPath = filepath.Join(e.dir, "memory", "a1.idx")
	m, err := Open(ctx, o)
	if err == nil {
		start = time.Now()
		err = m.SaveSnapshot(ctx)
		b.Logf("snapshot written in %v", time.Since(start).Round(time.Millisecond))
		m.Close()
	}
	if err != nil {
		b.Fatal(err)
	}
	if fi, err := os.Stat(o.SnapshotPath); err == nil {
		b.Logf("snapshot file %d MiB", fi.Size()>>20)
	}
	b.Run("snapshot", func(b *testing.B) {
		for b.Loop() {
			open(b, o, "snapshot")
		}
		b.ReportMetric(float64(n), "chunks")
	})
}

// fixedDims stands in for the embedder at load: only Model and Dimensions
// are used when rows are opened.
type fixedDims struct{}

func (fixedDims) Embed(context.Context, []string) ([][]float32, error) {
	return nil, fmt.Errorf("not used")
}
func (fixedDims) Model() string   { return "bench-384" }
func (fixedDims) Dimensions() int { return benchDims }

var benchWords = strings.Fields(`meeting invoice travel flight dentist budget report project deadline sister
	birthday recipe garden server deploy backup password renewal contract vendor review holiday train hotel
	coffee tea doctor school concert ticket payment insurance car repair lease apartment plumber`)

// benchChunkWords is the words per benchmark chunk: with the invoice
// number about 400 estimated tokens, the chunker's target.
const benchChunkWords = 340

// seedRows stores n sealed chunks (100 per note) with random text and
// unit vectors, the way Sync would, and returns their mean token estimate.
func seedRows(b *testing.B, db *store.DB, o Options, n int) float64 {
	r := rand.New(rand.NewPCG(1, 2))
	const perNote = 100
	toks := 0
	for noteNo := 0; noteNo*perNote < n; noteNo++ {
		id := newID()
		np := notePayload{Path: fmt.Sprintf("memory/2026-01-%02d-%d.md", noteNo%28+1, noteNo), Size: 1, Chunker: "v1/400/80"}
		sealedNote, err := o.Codec.EncodeValue(np.encode())
		if err != nil {
			b.Fatal(err)
		}
		var rows []store.MemoryChunk
		for i := 0; i < perNote && noteNo*perNote+i < n; i++ {
			var sb strings.Builder
			for range benchChunkWords {
				sb.WriteString(benchWords[r.IntN(len(benchWords))])
				sb.WriteByte(' ')
			}
			fmt.Fprintf(&sb, "invoice %d", (noteNo*perNote+i)%10000)
			toks += tokens.Estimate(sb.String())
			vec := make([]float32, benchDims)
			var norm float32
			for k := range vec {
				vec[k] = r.Float32() - 0.5
				norm += vec[k] * vec[k]
			}
			for k := range vec {
				vec[k] /= float32(math.Sqrt(float64(norm)))
			}
			cp := chunkPayload{NoteID: id, Seq: i, Text: sb.String(), StartLine: i*10 + 1, EndLine: i*10 + 9,
				Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), Model: "bench-384", Vector: vec}
			sealed, err := o.Codec.EncodeValue(cp.encode())
			if err != nil {
				b.Fatal(err)
			}
			rows = append(rows, store.MemoryChunk{Seq: i, Sealed: sealed})
		}
		if _, err := db.PutMemoryNote(context.Background(), store.MemoryNote{ID: id, AgentID: o.AgentID, UpdatedAt: testNow, Sealed: sealedNote}, rows); err != nil {
			b.Fatal(err)
		}
	}
	return float64(toks) / float64(n)
}
