package durable

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestLineReader(t *testing.T) {
	tooLong := errors.New("too long")
	in := "ab\n" + strings.Repeat("x", 10) + "\n\ncd\nlast"
	lr := NewLineReader(strings.NewReader(in), 5, tooLong)
	type step struct {
		line       string
		terminated bool
		err        error
	}
	want := []step{{"ab", true, nil}, {"", true, tooLong}, {"", true, nil}, {"cd", true, nil}, {"last", false, nil}, {"", false, io.EOF}}
	for i, w := range want {
		line, term, err := lr.Next()
		if string(line) != w.line || term != w.terminated || err != w.err {
			t.Fatalf("step %d: got %q %v %v, want %q %v %v", i, line, term, err, w.line, w.terminated, w.err)
		}
	}
	// An overlong unterminated tail is reported too.
	lr = NewLineReader(strings.NewReader("abcdefgh"), 5, tooLong)
	if _, _, err := lr.Next(); err != tooLong {
		t.Fatalf("overlong tail: %v", err)
	}
}
