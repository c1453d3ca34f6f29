package telegram

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/genos-project/genos/channels/telegram/telegramtest"
	"github.com/genos-project/genos/core/chat"
)

// streamAsync runs Stream in the background and returns its input and
// result channels.
func streamAsync(t *testing.T, a *Adapter, to chat.Outbound) (chan<- string, <-chan error) {
	t.Helper()
	text := make(chan string)
	done := make(chan error, 1)
	go func() { done <- a.Stream(t.Context(), to, text) }()
	return text, done
}

func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Stream did not return")
	}
	return nil
}

// visibleOf returns the visible text of an HTML or plain call.
func visibleOf(t *testing.T, c telegramtest.Call) string {
	t.Helper()
	if c.Params["parse_mode"] != "HTML" {
		return c.Params["text"]
	}
	v, err := telegramtest.ParseHTML(c.Params["text"])
	if err != nil {
		t.Fatalf("invalid HTML sent: %v", err)
	}
	return v
}

func TestStreamThrottlesEdits(t *testing.T) {
	t.Parallel()
	f := telegramtest.New(t)
	a := newTestAdapter(t, f, nil) // EditEvery is an hour: no edit before the end
	text, done := streamAsync(t, a, chat.Outbound{Peer: "42", ReplyTo: "7"})
	for _, v := range []string{"Hel", "Hello", "Hello, wor", "Hello, world", "Hello, world!"} {
		text <- v
	}
	close(text)
	if err := wait(t, done); err != nil {
		t.Fatalf("Stream: %v", err)
	}
	sends, edits := f.OKCalls("sendMessage"), f.Calls("editMessageText")
	if len(sends) != 1 || visibleOf(t, sends[0]) != "Hel" || !strings.Contains(sends[0].Params["reply_parameters"], `"message_id":7`) {
		t.Fatalf("sends = %d, want one reply to 7 showing the first text", len(sends))
	}
	if len(edits) != 1 || edits[0].Code != 0 {
		t.Fatalf("edits = %d, want exactly the final one", len(edits))
	}
	if got := visibleOf(t, edits[0]); got != "Hello, world!" {
		t.Errorf("final text = %q, want %q", got, "Hello, world!")
	}
}

func TestStreamEditsEachChangeOnce(t *testing.T) {
	t.Parallel()
	f := telegramtest.New(t)
	a := newTestAdapter(t, f, func(o *Options) { o.EditEvery = time.Nanosecond })
	text, done := streamAsync(t, a, chat.Outbound{Peer: "42"})
	values := []string{"one", "one two", "one two three", "one two three four"}
	text <- values[0]
	f.WaitFor("first message", func() bool { return len(f.Calls("")) == 1 })
	for i, v := range values[1:] {
		text <- v
		f.WaitFor(fmt.Sprintf("edit %d", i+1), func() bool { return len(f.Calls("")) == i+2 })
	}
	text <- values[len(values)-1] // unchanged: no edit
	close(text)
	if err := wait(t, done); err != nil {
		t.Fatalf("Stream: %v", err)
	}
	edits := f.Calls("editMessageText")
	if len(edits) != len(values)-1 {
		t.Fatalf("%d edits, want %d (one per change, none for identical text)", len(edits), len(values)-1)
	}
	for i, e := range edits {
		if e.Code != 0 {
			t.Errorf("edit %d failed with %d", i, e.Code)
		}
		if got := visibleOf(t, e); got != values[i+1] {
			t.Errorf("edit %d shows %q, want %q", i, got, values[i+1])
		}
	}
}

func TestStreamLongFinalIsSplit(t *testing.T) {
	t.Parallel()
	f := telegramtest.New(t)
	a := newTestAdapter(t, f, nil)
	md, paragraphs := longReply(10000)
	text, done := streamAsync(t, a, chat.Outbound{Peer: "42"})
	text <- "Paragraph"
	text <- md[:len(md)/2]
	text <- md
	close(text)
	if err := wait(t, done); err != nil {
		t.Fatalf("Stream: %v", err)
	}
	sends, edits := f.OKCalls("sendMessage"), f.OKCalls("editMessageText")
	if len(edits) != 1 || len(sends) < 3 {
		t.Fatalf("%d edits and %d sends, want 1 final edit and the rest as new messages", len(edits), len(sends))
	}
	// The message shows piece 1 and the new messages follow it, in order.
	var b strings.Builder
	b.WriteString(visibleOf(t, edits[0]))
	for _, s := range sends[1:] {
		b.WriteString(visibleOf(t, s))
	}
	all, last := b.String(), -1
	for p := 1; p <= paragraphs; p++ {
		at := strings.Index(all, fmt.Sprintf("Paragraph %04d:", p))
		if at < last {
			t.Fatalf("paragraph %d missing or out of order", p)
		}
		last = at
	}
}

func TestStreamEdgeCases(t *testing.T) {
	t.Parallel()
	t.Run("blank reply sends nothing", func(t *testing.T) {
		t.Parallel()
		f := telegramtest.New(t)
		a := newTestAdapter(t, f, nil)
		text, done := streamAsync(t, a, chat.Outbound{Peer: "42"})
		text <- "  "
		close(text)
		if err := wait(t, done); err != nil {
			t.Fatalf("Stream: %v", err)
		}
		if n := len(f.Calls("sendMessage")); n != 0 {
			t.Errorf("%d messages for a blank reply", n)
		}
	})
	t.Run("deleted message is resent", func(t *testing.T) {
		t.Parallel()
		f := telegramtest.New(t)
		a := newTestAdapter(t, f, nil)
		f.Inject("editMessageText", telegramtest.Fault{Code: 400, Description: "Bad Request: message to edit not found"})
		text, done := streamAsync(t, a, chat.Outbound{Peer: "42"})
		text <- "draft"
		text <- "final answer"
		close(text)
		if err := wait(t, done); err != nil {
			t.Fatalf("Stream: %v", err)
		}
		sends := f.OKCalls("sendMessage")
		if len(sends) != 2 || visibleOf(t, sends[1]) != "final answer" {
			t.Errorf("sends = %d, want the draft and then the final answer anew", len(sends))
		}
	})
	t.Run("bad address drains the text", func(t *testing.T) {
		t.Parallel()
		f := telegramtest.New(t)
		a := newTestAdapter(t, f, nil)
		text, done := streamAsync(t, a, chat.Outbound{Peer: "nobody"})
		if err := wait(t, done); err == nil {
			t.Fatal("Stream to a bad address succeeded")
		}
		text <- "the writer does not block"
		close(text)
	})
}
