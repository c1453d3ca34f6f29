package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The labelled retrieval set (testdata/retrieval, see its README) and the
// quality metrics computed over it: recall@5 and MRR, overall and per kind
// of query.

// retrievalDir is the labelled set, relative to the repository root (the
// harness runs from there, as `make bench` does).
const retrievalDir = "testdata/retrieval"

// Evaluation depth: recall counts the first recallAt distinct notes, MRR
// the first mrrDepth (a note ranked lower scores 0).
const (
	recallAt = 5
	mrrDepth = 10
)

// queryKinds are the kinds of labelled query, in report order.
var queryKinds = []string{"paraphrase", "name", "date", "number"}

// retrievalQuery is one labelled query of queries.json.
type retrievalQuery struct {
	ID     string   `json:"id"`
	Query  string   `json:"query"`
	Expect []string `json:"expect"`
	Kind   string   `json:"kind"`
}

// noteSection is one "## " section of MEMORY.md with its 1-based inclusive
// line range (heading line to the line before the next "## " heading).
type noteSection struct {
	title      string
	start, end int
}

// retrievalSet is testdata/retrieval loaded and checked.
type retrievalSet struct {
	notesDir string // the notes/ directory: MEMORY.md and memory/
	queries  []retrievalQuery
	sections []noteSection // of MEMORY.md
	notes    int           // daily note files
}

// loadRetrievalSet reads and validates the labelled set under dir: every
// query has an id, a known kind and expectations naming existing notes or
// MEMORY.md sections.
func loadRetrievalSet(dir string) (*retrievalSet, error) {
	s := &retrievalSet{notesDir: filepath.Join(dir, "notes")}
	mem, err := os.ReadFile(filepath.Join(s.notesDir, "MEMORY.md"))
	if err != nil {
		return nil, fmt.Errorf("retrieval set: %w", err)
	}
	s.sections = parseSections(mem)
	entries, err := os.ReadDir(filepath.Join(s.notesDir, "memory"))
	if err != nil {
		return nil, fmt.Errorf("retrieval set: %w", err)
	}
	files := map[string]bool{"MEMORY.md": true}
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".md") {
			files["memory/"+e.Name()] = true
			s.notes++
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "queries.json"))
	if err != nil {
		return nil, fmt.Errorf("retrieval set: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s.queries); err != nil {
		return nil, fmt.Errorf("retrieval set: queries.json: %w", err)
	}
	var errs []error
	ids := map[string]bool{}
	for i, q := range s.queries {
		switch {
		case q.ID == "" || ids[q.ID]:
			errs = append(errs, fmt.Errorf("query %d: missing or duplicate id %q", i+1, q.ID))
		case strings.TrimSpace(q.Query) == "":
			errs = append(errs, fmt.Errorf("%s: empty query", q.ID))
		case !slices.Contains(queryKinds, q.Kind):
			errs = append(errs, fmt.Errorf("%s: unknown kind %q", q.ID, q.Kind))
		case len(q.Expect) == 0:
			errs = append(errs, fmt.Errorf("%s: no expected note", q.ID))
		}
		ids[q.ID] = true
		for _, e := range q.Expect {
			file, sec, hasSec := strings.Cut(e, "#")
			switch {
			case !files[file]:
				errs = append(errs, fmt.Errorf("%s: expected note %q does not exist", q.ID, file))
			case hasSec && (file != "MEMORY.md" || !slices.ContainsFunc(s.sections, func(n noteSection) bool { return n.title == sec })):
				errs = append(errs, fmt.Errorf("%s: %q names no section of MEMORY.md", q.ID, e))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("retrieval set: %w", err)
	}
	return s, nil
}

// parseSections returns the "## " sections of a Markdown file.
func parseSections(text []byte) []noteSection {
	var out []noteSection
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		if title, ok := strings.CutPrefix(strings.TrimRight(sc.Text(), " \r"), "## "); ok {
			if len(out) > 0 {
				out[len(out)-1].end = n - 1
			}
			out = append(out, noteSection{title: strings.TrimSpace(title), start: n})
		}
	}
	if len(out) > 0 {
		out[len(out)-1].end = n
	}
	return out
}

// unitOf names the result unit a chunk belongs to: its note path, or for
// MEMORY.md "MEMORY.md#<section>" of the section holding its first line
// (a chunk never spans two sections: the chunker splits at headings).
func (s *retrievalSet) unitOf(path string, start, end int) string {
	if path != "MEMORY.md" {
		return path
	}
	for _, sec := range s.sections {
		if start <= sec.end && end >= sec.start {
			return "MEMORY.md#" + sec.title
		}
	}
	return path // the title above the first section
}

// matches reports whether a result unit answers an expectation: equal, or
// the expectation is the whole of MEMORY.md and the unit a section of it.
func matches(unit, expect string) bool {
	return unit == expect || (expect == "MEMORY.md" && strings.HasPrefix(unit, "MEMORY.md#"))
}

// distinctUnits keeps the first occurrence of each unit, so that several
// chunks of one note count once, at the rank of the best.
func distinctUnits(units []string) []string {
	seen := map[string]bool{}
	out := units[:0:0]
	for _, u := range units {
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

// firstRank returns the 1-based rank of the first unit answering q among
// the distinct units, or 0 if none within mrrDepth.
func firstRank(q retrievalQuery, units []string) int {
	for i, u := range distinctUnits(units) {
		if i >= mrrDepth {
			break
		}
		for _, e := range q.Expect {
			if matches(u, e) {
				return i + 1
			}
		}
	}
	return 0
}

// metric is recall@5 and MRR over some queries.
type metric struct {
	N       int
	Found   int // queries found within recallAt
	Recall  float64
	MRR     float64
	sumRecp float64
}

func (m *metric) add(rank int) {
	m.N++
	if rank >= 1 && rank <= recallAt {
		m.Found++
	}
	if rank >= 1 {
		m.sumRecp += 1 / float64(rank)
	}
	m.Recall = float64(m.Found) / float64(m.N)
	m.MRR = m.sumRecp / float64(m.N)
}

// evalResult is the quality of one retrieval mode over the set.
type evalResult struct {
	All    metric
	ByKind map[string]*metric
	// Missed lists the ids of queries not found within recallAt.
	Missed []string
}

// scoreRuns computes the metrics from the ranked result units of each
// query (by query id; a query without results scores 0).
func scoreRuns(qs []retrievalQuery, results map[string][]string) evalResult {
	r := evalResult{ByKind: map[string]*metric{}}
	for _, k := range queryKinds {
		r.ByKind[k] = &metric{}
	}
	for _, q := range qs {
		rank := firstRank(q, results[q.ID])
		r.All.add(rank)
		if m := r.ByKind[q.Kind]; m != nil {
			m.add(rank)
		}
		if rank == 0 || rank > recallAt {
			r.Missed = append(r.Missed, q.ID)
		}
	}
	return r
}

// qualityValue renders an evalResult as a table cell.
func qualityValue(r evalResult) string {
	var kinds []string
	for _, k := range queryKinds {
		if m := r.ByKind[k]; m != nil && m.N > 0 {
			kinds = append(kinds, fmt.Sprintf("%s %.2f/%.2f (n=%d)", k, m.Recall, m.MRR, m.N))
		}
	}
	return fmt.Sprintf("recall@%d %.3f, MRR %.3f (%d/%d found); recall/MRR by kind: %s",
		recallAt, r.All.Recall, r.All.MRR, r.All.Found, r.All.N, strings.Join(kinds, ", "))
}
