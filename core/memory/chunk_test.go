package memory

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/core/tokens"
)

func TestChunkTextSections(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		want []Chunk
	}{
		{name: "empty", text: "", want: nil},
		{name: "blank", text: "\n\n  \n", want: nil},
		{
			name: "dated note",
			text: "# 2026-11-25\n\n## Travel\nFlight to Tokyo on 3 Dec.\n\n## Food\nLikes ramen.\n",
			want: []Chunk{
				{Text: "## Travel\nFlight to Tokyo on 3 Dec.", StartLine: 3, EndLine: 4, Headings: []string{"2026-11-25", "Travel"}},
				{Text: "## Food\nLikes ramen.", StartLine: 6, EndLine: 7, Headings: []string{"2026-11-25", "Food"}},
			},
		},
		{
			name: "preamble and popping",
			text: "intro line\n# A\n## B\nx\n# C ##\ny\r\n",
			want: []Chunk{
				{Text: "intro line", StartLine: 1, EndLine: 1},
				{Text: "## B\nx", StartLine: 3, EndLine: 4, Headings: []string{"A", "B"}},
				{Text: "# C ##\ny", StartLine: 5, EndLine: 6, Headings: []string{"C"}},
			},
		},
		{
			name: "fence hides headings",
			text: "# Code\n```sh\n# not a heading\n```\n#hashtag is text\n",
			want: []Chunk{
				{Text: "# Code\n```sh\n# not a heading\n```\n#hashtag is text", StartLine: 1, EndLine: 5, Headings: []string{"Code"}},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ChunkText(tc.text, ChunkOptions{})
			for i := range got {
				got[i].Tokens = 0
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("ChunkText (-want +got):\n%s", d)
			}
		})
	}
}

// longNote builds a section of n paragraphs of three sentences each.
func longNote(n int) string {
	var b strings.Builder
	b.WriteString("# Project log\n\n")
	for i := range n {
		fmt.Fprintf(&b, "Paragraph %d talks about the migration of service number %d. "+
			"It went well apart from a retry storm on day %d.\nThe fix was a jittered backoff.\n\n", i, i*7, i%28+1)
	}
	return b.String()
}

func TestChunkTextPacking(t *testing.T) {
	text := longNote(60)
	lines := strings.Split(text, "\n")
	for _, o := range []ChunkOptions{{}, {TargetTokens: 100, OverlapTokens: 20}, {TargetTokens: 64, OverlapTokens: -1}} {
		t.Run(fmt.Sprintf("%d/%d", o.TargetTokens, o.OverlapTokens), func(t *testing.T) {
			n := o.normalised()
			chunks := ChunkText(text, o)
			if len(chunks) < 2 {
				t.Fatalf("%d chunks; want several", len(chunks))
			}
			covered := map[int]bool{}
			for i, c := range chunks {
				if c.Tokens > n.TargetTokens || c.Tokens != tokens.Estimate(c.Text) {
					t.Errorf("chunk %d: %d tokens, target %d", i, c.Tokens, n.TargetTokens)
				}
				// A chunk is exactly its line range, trimmed.
				if want := strings.TrimSpace(strings.Join(lines[c.StartLine-1:c.EndLine], "\n")); c.Text != want {
					t.Errorf("chunk %d text does not match lines %d-%d", i, c.StartLine, c.EndLine)
				}
				if d := cmp.Diff([]string{"Project log"}, c.Headings); d != "" {
					t.Errorf("chunk %d headings: %s", i, d)
				}
				for l := c.StartLine; l <= c.EndLine; l++ {
					covered[l] = true
				}
				if i == 0 {
					continue
				}
				prev := chunks[i-1]
				switch {
				case c.StartLine <= prev.StartLine:
					t.Errorf("chunk %d starts at %d, not after chunk %d (%d)", i, c.StartLine, i-1, prev.StartLine)
				case n.OverlapTokens > 0 && c.StartLine > prev.EndLine:
					t.Errorf("chunk %d (%d-%d) does not overlap chunk %d (%d-%d)", i, c.StartLine, c.EndLine, i-1, prev.StartLine, prev.EndLine)
				case n.OverlapTokens == 0 && c.StartLine <= prev.EndLine:
					t.Errorf("chunk %d overlaps with overlap off", i)
				}
				if n.OverlapTokens > 0 && c.StartLine <= prev.EndLine {
					shared := strings.Join(lines[c.StartLine-1:prev.EndLine], "\n")
					if got := tokens.Estimate(shared); got > n.OverlapTokens+1 {
						t.Errorf("chunk %d repeats %d tokens, overlap is %d", i, got, n.OverlapTokens)
					}
				}
			}
			for l, ln := range lines {
				if strings.TrimSpace(ln) != "" && !covered[l+1] {
					t.Errorf("line %d is in no chunk", l+1)
				}
			}
		})
	}
}

func TestChunkTextPrefersParagraphBreaks(t *testing.T) {
	chunks := ChunkText(longNote(40), ChunkOptions{TargetTokens: 120, OverlapTokens: -1})
	for i, c := range chunks[:len(chunks)-1] {
		if !strings.HasSuffix(c.Text, "jittered backoff.") {
			t.Errorf("chunk %d ends mid-paragraph: %q", i, c.Text[max(0, len(c.Text)-40):])
		}
	}
}

func TestChunkTextLongLine(t *testing.T) {
	var sentences []string
	for i := range 200 {
		sentences = append(sentences, fmt.Sprintf("Sentence %d says something about topic %d.", i, i))
	}
	line := strings.Join(sentences, " ")
	text := "# Dump\n" + line + "\n" + strings.Repeat("x", 5000) + "\n"
	o := ChunkOptions{TargetTokens: 100, OverlapTokens: -1}
	chunks := ChunkText(text, o)
	xs := 0
	for i, c := range chunks {
		if c.Tokens > 100 {
			t.Errorf("chunk %d: %d tokens", i, c.Tokens)
		}
		if c.StartLine < 1 || c.EndLine > 3 {
			t.Errorf("chunk %d spans lines %d-%d", i, c.StartLine, c.EndLine)
		}
		if c.EndLine == 2 && !strings.HasSuffix(c.Text, ".") {
			t.Errorf("a piece of a prose line was not cut at a sentence end: %q", c.Text[max(0, len(c.Text)-20):])
		}
		xs += strings.Count(c.Text, "x")
	}
	// Without overlap, every sentence is in exactly one chunk and every x
	// of the run without spaces too.
	for _, sent := range sentences {
		n := 0
		for _, c := range chunks {
			n += strings.Count(c.Text, sent)
		}
		if n != 1 {
			t.Errorf("%q is in %d chunks", sent, n)
		}
	}
	if xs != 5000 {
		t.Errorf("%d x in the chunks, want 5000", xs)
	}
}

func TestChunkOptionsNormalised(t *testing.T) {
	for _, tc := range []struct{ in, want ChunkOptions }{
		{ChunkOptions{}, ChunkOptions{400, 80}},
		{ChunkOptions{TargetTokens: 1, OverlapTokens: 100}, ChunkOptions{32, 16}},
		{ChunkOptions{TargetTokens: 1 << 20, OverlapTokens: -5}, ChunkOptions{8192, 0}},
	} {
		if got := tc.in.normalised(); got != tc.want {
			t.Errorf("%+v.normalised() = %+v; want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseHeading(t *testing.T) {
	for _, tc := range []struct {
		in    string
		depth int
		title string
		ok    bool
	}{
		{"# Title", 1, "Title", true},
		{"   ### Deep ###", 3, "Deep", true},
		{"#", 1, "", true},
		{"####### seven", 0, "", false},
		{"#tag", 0, "", false},
		{"    # indented code", 0, "", false},
		{"## C# notes", 2, "C# notes", true},
	} {
		d, title, ok := parseHeading(tc.in)
		if d != tc.depth || title != tc.title || ok != tc.ok {
			t.Errorf("parseHeading(%q) = %d, %q, %v; want %d, %q, %v", tc.in, d, title, ok, tc.depth, tc.title, tc.ok)
		}
	}
}

// TestChunkTextBytesBounded: the token estimate charges one token for a run
// of spaces, so chunks are bounded in bytes too (a chunk row must fit the
// store's limit whatever the note holds).
func TestChunkTextBytesBounded(t *testing.T) {
	text := "# " + strings.Repeat("h ", 5000) + "\n" + "a" + strings.Repeat(" ", 100000) + "b\n" + strings.Repeat("\t", 50000) + "c\n"
	o := ChunkOptions{}.normalised()
	chunks := ChunkText(text, ChunkOptions{})
	if len(chunks) < 3 {
		t.Fatalf("%d chunks", len(chunks))
	}
	for i, c := range chunks {
		if len(c.Text) > o.TargetTokens*bytesPerToken {
			t.Errorf("chunk %d is %d bytes", i, len(c.Text))
		}
		if c.Headings != nil {
			t.Errorf("chunk %d: an overlong heading line was taken as a heading", i)
		}
	}
}
