package inbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/genos-project/genos/core/chat"
	"github.com/google/go-cmp/cmp"
)

func TestRoundTrip(t *testing.T) {
	q, priv := openTest(t, Options{})
	want := msgs(0, 7)
	mustPut(t, q, want...)
	if q.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", q.Len(), len(want))
	}
	got, err := drainAll(q, priv)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("delivered (-want +got):\n%s", diff)
	}
	if q.Len() != 0 {
		t.Errorf("Len = %d after Drain", q.Len())
	}
	if fi, err := os.Stat(q.Path()); err != nil || fi.Size() != 0 {
		t.Errorf("file after a full drain: %v, %v; want empty", fi, err)
	}
	if exists(q.cursorPath) {
		t.Error("cursor left after a full drain")
	}
	// Nothing is delivered twice, and the queue keeps working.
	if got, err := drainAll(q, priv); err != nil || len(got) != 0 {
		t.Fatalf("second Drain delivered %d, %v", len(got), err)
	}
	mustPut(t, q, testMsg(9))
	if got, err := drainAll(q, priv); err != nil || len(got) != 1 || got[0].MessageID != "m9" {
		t.Fatalf("after refill: %v, %v", got, err)
	}
}

func TestReopenKeepsMessages(t *testing.T) {
	q, priv := openTest(t, Options{})
	mustPut(t, q, msgs(0, 4)...)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Put(testMsg(5)); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Close: %v, want ErrClosed", err)
	}
	if err := q.Drain(priv, func(chat.Inbound) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Drain after Close: %v, want ErrClosed", err)
	}
	if err := q.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	q2, err := Open(q.Path(), q.pub, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	if q2.Len() != 4 {
		t.Fatalf("Len after reopen = %d, want 4", q2.Len())
	}
	got, err := drainAll(q2, priv)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(msgs(0, 4), got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestWrongKey(t *testing.T) {
	q, priv := openTest(t, Options{})
	mustPut(t, q, msgs(0, 3)...)
	before, _ := os.ReadFile(q.Path())
	wrong, _ := testKeys(t, 2)
	for name, key := range map[string][]byte{"other key": wrong, "short": priv[:16], "nil": nil} {
		t.Run(name, func(t *testing.T) {
			called := false
			err := q.Drain(key, func(chat.Inbound) error { called = true; return nil })
			if err == nil || called {
				t.Fatalf("Drain = %v, fn called %v", err, called)
			}
			if name == "other key" && !errors.Is(err, ErrWrongKey) {
				t.Errorf("err = %v, want ErrWrongKey", err)
			}
			after, _ := os.ReadFile(q.Path())
			if !bytes.Equal(before, after) || q.Len() != 3 || exists(q.badPath) || exists(q.cursorPath) {
				t.Fatal("a refused Drain changed the queue")
			}
		})
	}
	got, err := drainAll(q, priv)
	if err != nil || len(got) != 3 {
		t.Fatalf("right key afterwards: %d delivered, %v", len(got), err)
	}
}

func TestFnErrorStopsAndKeepsRest(t *testing.T) {
	q, priv := openTest(t, Options{})
	all := msgs(0, 6)
	mustPut(t, q, all...)
	errBusy := errors.New("agent busy")
	var got []chat.Inbound
	err := q.Drain(priv, func(in chat.Inbound) error {
		if in.MessageID == "m2" {
			return errBusy
		}
		got = append(got, in)
		return nil
	})
	if !errors.Is(err, errBusy) || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("Drain = %v, want errBusy at line 3", err)
	}
	if diff := cmp.Diff(all[:2], got); diff != "" {
		t.Fatalf("delivered before the error (-want +got):\n%s", diff)
	}
	if q.Len() != 4 {
		t.Fatalf("Len = %d, want 4", q.Len())
	}
	// Delivered lines are gone from disk already.
	if n := len(readLines(t, q.Path())); n != 4 {
		t.Fatalf("file holds %d lines after the failed drain, want 4", n)
	}
	// The rest, the failed one first, survive a reopen and arrive in order.
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q2, err := Open(q.Path(), q.pub, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	rest, err := drainAll(q2, priv)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(all[2:], rest); diff != "" {
		t.Fatalf("second drain (-want +got):\n%s", diff)
	}
}

func TestFnErrorOnFirstMessage(t *testing.T) {
	q, priv := openTest(t, Options{})
	mustPut(t, q, msgs(0, 2)...)
	before, _ := os.ReadFile(q.Path())
	errNo := errors.New("no")
	if err := q.Drain(priv, func(chat.Inbound) error { return errNo }); !errors.Is(err, errNo) {
		t.Fatalf("Drain = %v", err)
	}
	after, _ := os.ReadFile(q.Path())
	if !bytes.Equal(before, after) || q.Len() != 2 {
		t.Fatal("queue changed although nothing was delivered")
	}
}

func TestBounds(t *testing.T) {
	t.Run("messages", func(t *testing.T) {
		q, priv := openTest(t, Options{MaxMessages: 3})
		mustPut(t, q, msgs(0, 3)...)
		size := fileSize(t, q.Path())
		if err := q.Put(testMsg(3)); !errors.Is(err, ErrFull) {
			t.Fatalf("4th Put = %v, want ErrFull", err)
		}
		if q.Len() != 3 || fileSize(t, q.Path()) != size {
			t.Fatal("a refused Put changed the queue")
		}
		if got, err := drainAll(q, priv); err != nil || len(got) != 3 {
			t.Fatalf("Drain: %d, %v", len(got), err)
		}
		mustPut(t, q, testMsg(3)) // room again
	})
	t.Run("bytes", func(t *testing.T) {
		plain, _ := marshalInbound(testMsg(1))
		lineLen := int64(sealedLen(len(plain)) + 1)
		q, _ := openTest(t, Options{MaxBytes: 2*lineLen + 10})
		mustPut(t, q, testMsg(1), testMsg(1))
		if err := q.Put(testMsg(1)); !errors.Is(err, ErrFull) {
			t.Fatalf("3rd Put = %v, want ErrFull", err)
		}
		if q.Len() != 2 {
			t.Fatalf("Len = %d", q.Len())
		}
	})
	t.Run("message size", func(t *testing.T) {
		q, priv := openTest(t, Options{})
		big := testMsg(1)
		big.Text = strings.Repeat("x", DefaultMaxLineBytes)
		if err := q.Put(big); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Put = %v, want ErrTooLarge", err)
		}
		att := testMsg(0)
		att.Attachments[0].Data = make([]byte, DefaultMaxLineBytes*3/5)
		if err := q.Put(att); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Put with a large attachment = %v, want ErrTooLarge", err)
		}
		// The largest message that fits is accepted and survives.
		fits := testMsg(2)
		fits.Text = ""
		plain, _ := marshalInbound(fits)
		fits.Text = strings.Repeat("y", (DefaultMaxLineBytes-sealedLen(len(plain)))*3/4)
		if err := q.Put(fits); err != nil {
			t.Fatalf("Put of %d-byte text: %v", len(fits.Text), err)
		}
		if got, err := drainAll(q, priv); err != nil || len(got) != 1 || got[0].Text != fits.Text {
			t.Fatalf("Drain: %d, %v", len(got), err)
		}
		if q.Len() != 0 || exists(q.badPath) {
			t.Fatal("refused Puts left something behind")
		}
	})
}

func TestConcurrentPutAndDrain(t *testing.T) {
	q, priv := openTest(t, Options{})
	const writers, each = 6, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				in := testMsg(i)
				in.MessageID = fmt.Sprintf("w%d-%d", w, i)
				if err := q.Put(in); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	seen := map[string]int{}
	order := map[int]int{} // writer -> last i seen
	deliver := func(in chat.Inbound) error {
		seen[in.MessageID]++
		var w, i int
		if _, err := fmt.Sscanf(in.MessageID, "w%d-%d", &w, &i); err != nil {
			return err
		}
		if last, ok := order[w]; ok && i <= last {
			t.Errorf("writer %d: message %d after %d", w, i, last)
		}
		order[w] = i
		return nil
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		if err := q.Drain(priv, deliver); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != writers*each {
		t.Fatalf("delivered %d distinct messages, want %d", len(seen), writers*each)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	if q.Len() != 0 {
		t.Errorf("Len = %d", q.Len())
	}
}

func TestPutFromFn(t *testing.T) {
	q, priv := openTest(t, Options{})
	mustPut(t, q, testMsg(0))
	var got []string
	err := q.Drain(priv, func(in chat.Inbound) error {
		got = append(got, in.MessageID)
		if in.MessageID == "m0" {
			return q.Put(testMsg(1))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"m0", "m1"}, got); diff != "" {
		t.Fatalf("a message Put during Drain was not delivered by it (-want +got):\n%s", diff)
	}
}

func TestNilFn(t *testing.T) {
	q, priv := openTest(t, Options{})
	if err := q.Drain(priv, nil); err == nil {
		t.Fatal("Drain accepted a nil fn")
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestCloseDuringDrain(t *testing.T) {
	q, priv := openTest(t, Options{})
	mustPut(t, q, msgs(0, 4)...)
	var got []string
	err := q.Drain(priv, func(in chat.Inbound) error {
		got = append(got, in.MessageID)
		if len(got) == 2 {
			return q.Close()
		}
		return nil
	})
	if !errors.Is(err, ErrClosed) || len(got) != 2 {
		t.Fatalf("Drain = %v after %v, want ErrClosed after two", err, got)
	}
	q2, err := Open(q.Path(), q.pub, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	rest, err := drainAll(q2, priv)
	if err != nil || len(rest) != 2 || rest[0].MessageID != "m2" {
		t.Fatalf("after reopen: %v, %v", rest, err)
	}
}
