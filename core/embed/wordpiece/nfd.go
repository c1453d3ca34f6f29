package wordpiece

//go:generate sh -c "python3 gen_nfd.py > nfd_table.go && gofmt -w nfd_table.go"

import (
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// The decomposition table is immutable data, parsed once on first use.
var (
	nfdOnce sync.Once
	nfdMap  map[rune][]rune
)

func loadNFD() {
	nfdMap = make(map[rune][]rune, 2100)
	for entry := range strings.SplitSeq(nfdData, ";") {
		if entry == "" {
			continue
		}
		from, to, _ := strings.Cut(entry, ":")
		r, err := strconv.ParseUint(from, 16, 32)
		if err != nil {
			panic("wordpiece: bad nfd table entry " + entry) // generated data: a bug, not input
		}
		var d []rune
		for part := range strings.SplitSeq(to, ",") {
			x, err := strconv.ParseUint(part, 16, 32)
			if err != nil {
				panic("wordpiece: bad nfd table entry " + entry)
			}
			d = append(d, rune(x))
		}
		nfdMap[rune(r)] = d
	}
}

// Hangul syllables decompose by formula (Unicode 3.12).
const (
	hangulSBase  = 0xAC00
	hangulLBase  = 0x1100
	hangulVBase  = 0x1161
	hangulTBase  = 0x11A7
	hangulVCount = 21
	hangulTCount = 28
	hangulNCount = hangulVCount * hangulTCount
	hangulSCount = 19 * hangulNCount
)

// appendNFD appends the canonical decomposition of r to dst. Combining marks
// are not reordered: the only caller drops them.
func appendNFD(dst []rune, r rune) []rune {
	if s := r - hangulSBase; s >= 0 && s < hangulSCount {
		dst = append(dst, hangulLBase+s/hangulNCount, hangulVBase+(s%hangulNCount)/hangulTCount)
		if t := s % hangulTCount; t != 0 {
			dst = append(dst, hangulTBase+t)
		}
		return dst
	}
	if r < 0xC0 {
		return append(dst, r)
	}
	nfdOnce.Do(loadNFD)
	if d, ok := nfdMap[r]; ok {
		return append(dst, d...)
	}
	return append(dst, r)
}

// stripAccents is BERT's _run_strip_accents: NFD, then drop nonspacing
// marks (category Mn).
func stripAccents(s string) string {
	var buf []rune
	changed := false
	for _, r := range s {
		if r < 0x80 {
			buf = append(buf, r)
			continue
		}
		n := len(buf)
		buf = appendNFD(buf, r)
		kept := buf[:n]
		for _, x := range buf[n:] {
			if !unicode.Is(unicode.Mn, x) {
				kept = append(kept, x)
			}
		}
		if len(kept) != n+1 || kept[n] != r {
			changed = true
		}
		buf = kept
	}
	if !changed {
		return s
	}
	return string(buf)
}
