package rank

import "math"

// BM25 scores documents of a small in-memory corpus (tool descriptions, a
// test set) against a query with Okapi BM25. Build it once with NewBM25; it
// is read-only afterwards and safe for concurrent use.
type BM25 struct {
	k1, b  float64
	avgLen float64
	docs   []map[string]int // term frequencies per document
	lens   []int
	idf    map[string]float64
}

// Default BM25 parameters, the same as SQLite FTS5's bm25().
const (
	DefaultK1 = 1.2
	DefaultB  = 0.75
)

// NewBM25 indexes docs with Tokenize. k1 <= 0 or b outside [0,1] take the
// defaults DefaultK1 and DefaultB.
func NewBM25(docs []string, k1, b float64) *BM25 {
	if k1 <= 0 {
		k1 = DefaultK1
	}
	if b < 0 || b > 1 {
		b = DefaultB
	}
	m := &BM25{k1: k1, b: b, docs: make([]map[string]int, len(docs)), lens: make([]int, len(docs)), idf: map[string]float64{}}
	df := map[string]int{}
	total := 0
	for i, d := range docs {
		tf := map[string]int{}
		toks := Tokenize(d)
		for _, t := range toks {
			tf[t]++
		}
		for t := range tf {
			df[t]++
		}
		m.docs[i], m.lens[i] = tf, len(toks)
		total += len(toks)
	}
	if len(docs) > 0 {
		m.avgLen = float64(total) / float64(len(docs))
	}
	n := float64(len(docs))
	for t, f := range df {
		// The +1 inside the log (Lucene's variant) keeps idf positive even
		// for a term in every document, so a match never lowers a score.
		m.idf[t] = math.Log(1 + (n-float64(f)+0.5)/(float64(f)+0.5))
	}
	return m
}

// Len returns the number of documents.
func (m *BM25) Len() int { return len(m.docs) }

// Scores returns one BM25 score per document, in document order; higher is
// better and 0 means no query term matched. Repeated query terms count once.
func (m *BM25) Scores(query string) []float64 {
	out := make([]float64, len(m.docs))
	seen := map[string]bool{}
	for _, t := range Tokenize(query) {
		if seen[t] {
			continue
		}
		seen[t] = true
		idf, ok := m.idf[t]
		if !ok {
			continue
		}
		for i, tf := range m.docs {
			f := float64(tf[t])
			if f == 0 {
				continue
			}
			norm := 1 - m.b
			if m.avgLen > 0 {
				norm += m.b * float64(m.lens[i]) / m.avgLen
			}
			out[i] += idf * f * (m.k1 + 1) / (f + m.k1*norm)
		}
	}
	return out
}
