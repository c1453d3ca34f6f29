package index

import (
	"cmp"
	"slices"
	"strings"

	"github.com/genos-project/genos/core/rank"
)

// maxQueryTerms caps the distinct terms taken from a query text: a pasted
// page as the query would otherwise cost a posting scan per word.
const maxQueryTerms = 32

// queryTerms returns the distinct lowercase letter/digit runs of text in
// order of first appearance, at most maxQueryTerms of them.
func queryTerms(text string) []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range rank.Tokenize(text) {
		if seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, t)
		if len(out) == maxQueryTerms {
			break
		}
	}
	return out
}

// ftsQuery turns terms into an FTS5 MATCH expression that cannot carry user
// syntax: every term becomes a string literal (double quotes, inner quotes
// doubled), and the literals are joined with OR. Inside a string FTS5
// operators (AND, NOT, NEAR, column filters, *, ^) are plain text. Terms
// from queryTerms hold only letters, digits and marks; the quoting keeps the
// expression safe for any input regardless. It returns "" for no terms.
func ftsQuery(terms []string) string {
	var b strings.Builder
	for _, t := range terms {
		if t == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(" OR ")
		}
		b.WriteByte('"')
		b.WriteString(strings.ReplaceAll(t, `"`, `""`))
		b.WriteByte('"')
	}
	return b.String()
}

// selectTerms bounds the cost of a BM25 query. FTS5 scores every document
// that matches any term (about a microsecond each), so a query with a word
// found in most chunks ("the", "meeting") would cost tens of milliseconds at
// 100k chunks while adding almost nothing to the ranking (BM25 weighs such
// words near zero). Terms are taken rarest first (df: matching documents per
// term) while the total stays within budget; terms matching nothing cost
// nothing and are kept. When no term fits and keepOne is set the rarest is
// kept anyway, so a text-only search is never empty just because its words
// are common.
func selectTerms(terms []string, df map[string]int, budget int, keepOne bool) []string {
	order := slices.Clone(terms)
	slices.SortStableFunc(order, func(a, b string) int { return cmp.Compare(df[a], df[b]) })
	var out []string
	total := 0
	for _, t := range order {
		if total+df[t] > budget {
			break
		}
		total += df[t]
		out = append(out, t)
	}
	if len(out) == 0 && keepOne && len(order) > 0 {
		out = append(out, order[0])
	}
	return out
}
