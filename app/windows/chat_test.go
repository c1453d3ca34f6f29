package windows

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/app/internal/fakegw"
	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/chat"
)

const testSession = "agent:main:main"

func sampleHistory() []chat.Record {
	ts := time.Date(2025, 11, 20, 9, 30, 0, 0, time.UTC)
	return []chat.Record{
		{ID: "r1", Role: chat.RoleUser, Content: "What is in my home directory?", Time: ts},
		{ID: "r2", Role: chat.RoleAssistant, Time: ts, ToolCalls: []chat.ToolCall{
			{ID: "t1", Name: "exec", Arguments: json.RawMessage(`{"command":"ls -la ~"}`)},
		}},
		{ID: "r3", Role: chat.RoleTool, ToolName: "exec", ToolCallID: "t1", Content: "total 8\ndrwxr-xr-x notes", Time: ts},
		{ID: "r4", Role: chat.RoleAssistant, Content: "You have a **notes** folder.", Time: ts},
		{ID: "r5", Role: chat.RoleUser, Content: "relayed", Provenance: &chat.Provenance{Kind: chat.InterSession, SourceSession: "agent:ops:main"}, Time: ts},
	}
}

// newTestChat opens a chat window on a fresh fake gateway.
func newTestChat(t *testing.T, opts ChatOptions) (*Chat, *fakegw.Server) {
	t.Helper()
	a := test.NewTempApp(t)
	gw := fakegw.New(t)
	gw.SetHistory(testSession, sampleHistory())
	opts.SessionKey = testSession
	opts.UI = testUI
	w := NewChat(t.Context(), a, gw.Dial(t), opts)
	t.Cleanup(func() { w.ui.Locked(w.Close) })
	waitFor(t, w.ui, "history", func() bool { return w.hasText("notes folder") })
	return w, gw
}

func TestChatRendersHistory(t *testing.T) {
	w, gw := newTestChat(t, ChatOptions{})
	var p api.ChatHistoryParams
	if err := gw.WaitRequest(t, api.MethodChatHistory, 1).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p.SessionKey != testSession || p.Limit != 200 {
		t.Errorf("chat.history params = %+v", p)
	}
	var got []string
	w.ui.Locked(func() { got = w.texts() })
	want := []string{
		"What is in my home directory?",
		"⚙ exec: ls -la ~",
		"↳ exec: total 8 drwxr-xr-x notes",
		"You have a notes folder.",
		"From agent:ops:main: relayed",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("transcript (-want +got):\n%s", diff)
	}
}

func TestChatSendStreamsReply(t *testing.T) {
	w, gw := newTestChat(t, ChatOptions{})

	w.ui.Locked(func() {
		test.Type(w.input, "Tell me a joke")
		w.input.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	})
	var p api.ChatSendParams
	if err := gw.WaitRequest(t, api.MethodChatSend, 1).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p.SessionKey != testSession || p.Message != "Tell me a joke" || p.IdempotencyKey == "" {
		t.Errorf("chat.send params = %+v", p)
	}
	w.ui.Locked(func() {
		if w.input.Text != "" {
			t.Errorf("composer not cleared: %q", w.input.Text)
		}
		if !w.hasText("Tell me a joke") {
			t.Error("own message not shown")
		}
	})
	waitFor(t, w.ui, "Stop enabled after chat.send", func() bool { return !w.stop.Disabled() })

	gw.Emit(api.EventChat, api.ChatEvent{RunID: "run-1", SessionKey: testSession, Seq: 1, State: api.ChatDelta, Delta: "Why did the "})
	gw.Emit(api.EventChat, api.ChatEvent{RunID: "run-1", SessionKey: testSession, Seq: 2, State: api.ChatDelta, Delta: "gopher…"})
	gw.Emit(api.EventChat, api.ChatEvent{RunID: "run-1", SessionKey: "agent:other:main", Seq: 1, State: api.ChatDelta, Delta: "NOT MINE"})
	waitFor(t, w.ui, "streamed deltas", func() bool { return w.hasText("Why did the gopher…") })

	gw.Emit(api.EventChat, api.ChatEvent{RunID: "run-1", SessionKey: testSession, Seq: 3, State: api.ChatFinal,
		Message: &chat.Record{Role: chat.RoleAssistant, Content: "Why did the gopher cross the road? To get to the other goroutine."}})
	waitFor(t, w.ui, "final text", func() bool { return w.hasText("other goroutine") })
	w.ui.Locked(func() {
		if w.hasText("NOT MINE") {
			t.Error("event of another session was shown")
		}
		if w.hasText("Why did the gopher…") {
			t.Error("streamed text not replaced by the final message")
		}
		if !w.stop.Disabled() {
			t.Error("Stop still enabled after the final event")
		}
	})

	// A second message gets its own idempotency key.
	w.ui.Locked(func() {
		test.Type(w.input, "Another")
		test.Tap(w.send)
	})
	var p2 api.ChatSendParams
	if err := gw.WaitRequest(t, api.MethodChatSend, 2).Decode(&p2); err != nil {
		t.Fatal(err)
	}
	if p2.IdempotencyKey == p.IdempotencyKey {
		t.Errorf("idempotency key reused: %q", p2.IdempotencyKey)
	}
}

func TestChatShiftEnterInsertsNewline(t *testing.T) {
	w, gw := newTestChat(t, ChatOptions{})
	w.ui.Locked(func() {
		test.Type(w.input, "line one")
		w.input.KeyDown(&fyne.KeyEvent{Name: "LeftShift"})
		w.input.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
		w.input.KeyUp(&fyne.KeyEvent{Name: "LeftShift"})
		test.Type(w.input, "line two")
	})
	w.ui.Locked(func() {
		if w.input.Text != "line one\nline two" {
			t.Errorf("composer = %q, want two lines", w.input.Text)
		}
	})
	if n := len(gw.Requests(api.MethodChatSend)); n != 0 {
		t.Errorf("Shift+Enter sent %d messages", n)
	}
	w.ui.Locked(func() { w.input.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEnter}) })
	var p api.ChatSendParams
	if err := gw.WaitRequest(t, api.MethodChatSend, 1).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p.Message != "line one\nline two" {
		t.Errorf("sent %q", p.Message)
	}
}

func TestChatIgnoresBlankMessages(t *testing.T) {
	w, gw := newTestChat(t, ChatOptions{})
	w.ui.Locked(func() {
		before := len(w.items)
		test.Type(w.input, "   ")
		test.Tap(w.send)
		// A real send clears the composer and adds a row before it returns.
		if w.input.Text != "   " || len(w.items) != before {
			t.Errorf("blank message was sent: composer %q, %d rows (was %d)", w.input.Text, len(w.items), before)
		}
	})
	if n := len(gw.Requests(api.MethodChatSend)); n != 0 {
		t.Errorf("blank message sent %d times", n)
	}
}

func TestChatShowsRunErrors(t *testing.T) {
	tests := []struct {
		name  string
		event api.ChatEvent
		want  string
	}{
		{"error", api.ChatEvent{State: api.ChatError, ErrorMessage: "model unreachable: connection refused"}, "⚠ model unreachable: connection refused"},
		{"error without message", api.ChatEvent{State: api.ChatError}, "⚠ The reply failed for an unknown reason."},
		{"aborted", api.ChatEvent{State: api.ChatAborted, ErrorMessage: "stopped by user"}, "⏹ Stopped: stopped by user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, gw := newTestChat(t, ChatOptions{})
			ev := tt.event
			ev.RunID, ev.SessionKey = "run-9", testSession
			gw.Emit(api.EventChat, api.ChatEvent{RunID: "run-9", SessionKey: testSession, State: api.ChatDelta, Delta: ""})
			waitFor(t, w.ui, "run active", func() bool { return !w.stop.Disabled() })
			gw.Emit(api.EventChat, ev)
			waitFor(t, w.ui, tt.want, func() bool { return w.hasText(tt.want) })
			w.ui.Locked(func() {
				if !w.stop.Disabled() {
					t.Error("Stop still enabled after the run ended")
				}
				for _, it := range w.items {
					if it.kind == itemAssistant && it.raw == "" {
						t.Error("an empty reply bubble was left behind")
					}
				}
			})
		})
	}
}

func TestChatToolActivity(t *testing.T) {
	w, gw := newTestChat(t, ChatOptions{})
	args := json.RawMessage(`{"command":"ls -la"}`)
	gw.Emit(api.EventChat, api.ChatEvent{RunID: "run-2", SessionKey: testSession, State: api.ChatDelta, Delta: "Let me look."})
	gw.Emit(api.EventAgent, api.AgentEvent{RunID: "run-2", SessionKey: testSession, Phase: api.ToolStart, Tool: "exec", ToolCallID: "c1", Args: args})
	waitFor(t, w.ui, "tool start", func() bool { return w.hasText("⚙ exec: ls -la … running") })
	gw.Emit(api.EventAgent, api.AgentEvent{RunID: "run-2", SessionKey: testSession, Phase: api.ToolEnd, Tool: "exec", ToolCallID: "c1", Result: "ok"})
	waitFor(t, w.ui, "tool end", func() bool { return w.hasText("⚙ exec: ls -la … done") })
	gw.Emit(api.EventChat, api.ChatEvent{RunID: "run-2", SessionKey: testSession, State: api.ChatDelta, Delta: "Found it."})
	gw.Emit(api.EventChat, api.ChatEvent{RunID: "run-2", SessionKey: testSession, State: api.ChatFinal,
		Message: &chat.Record{Role: chat.RoleAssistant, Content: "Found it: two files."}})
	waitFor(t, w.ui, "final", func() bool { return w.hasText("Found it: two files.") })

	var got []string
	w.ui.Locked(func() { got = w.texts() })
	tail := got[len(got)-3:]
	want := []string{"Let me look.", "⚙ exec: ls -la … done", "Found it: two files."}
	if diff := cmp.Diff(want, tail); diff != "" {
		t.Errorf("text after a tool call must follow its line (-want +got):\n%s", diff)
	}
}

func TestChatStopAbortsRun(t *testing.T) {
	w, gw := newTestChat(t, ChatOptions{})
	gw.Emit(api.EventChat, api.ChatEvent{RunID: "run-7", SessionKey: testSession, State: api.ChatDelta, Delta: "Thinking"})
	waitFor(t, w.ui, "Stop enabled", func() bool { return !w.stop.Disabled() })
	w.ui.Locked(func() { test.Tap(w.stop) })
	var p api.ChatAbortParams
	if err := gw.WaitRequest(t, api.MethodChatAbort, 1).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(api.ChatAbortParams{SessionKey: testSession, RunID: "run-7"}, p); diff != "" {
		t.Errorf("chat.abort params (-want +got):\n%s", diff)
	}
}

func TestChatSendFailureIsShown(t *testing.T) {
	w, gw := newTestChat(t, ChatOptions{})
	gw.Handle(api.MethodChatSend, func(json.RawMessage) (any, *api.ErrorShape) {
		return nil, api.Errorf(api.CodeNoModel, "no model configured")
	})
	w.ui.Locked(func() {
		test.Type(w.input, "hello?")
		test.Tap(w.send)
	})
	waitFor(t, w.ui, "send error", func() bool { return w.hasText("Your message was not sent. No model is set up yet.") })
	w.ui.Locked(func() {
		if w.input.Text != "hello?" {
			t.Errorf("composer = %q, want the unsent text back", w.input.Text)
		}
	})
}

func TestChatApprovalWait(t *testing.T) {
	opened := make(chan struct{}, 1)
	w, gw := newTestChat(t, ChatOptions{OnOpenApprovals: func() { opened <- struct{}{} }})
	gw.Emit(api.EventApprovalRequested, api.Approval{ID: "ap1", SessionKey: testSession, RunID: "run-3", Tool: "exec"})
	waitFor(t, w.ui, "approval wait line", func() bool { return w.hasText("Waiting for your approval to run exec") })
	w.ui.Locked(func() { test.Tap(w.waits["ap1"].action) })
	select {
	case <-opened:
	default:
		t.Error("Review… did not open the approvals window")
	}
	gw.Emit(api.EventApprovalResolved, api.ApprovalResolvedEvent{ID: "ap1", SessionKey: testSession, Tool: "exec", Decision: api.DecisionDeny})
	waitFor(t, w.ui, "resolution", func() bool { return w.hasText("✗ Denied exec.") })
}

func TestChatNotConnected(t *testing.T) {
	w, gw := newTestChat(t, ChatOptions{})
	gw.DropConnections()
	waitFor(t, w.ui, "disconnected status", func() bool { return strings.Contains(w.status.Text, "Not connected") })
}

func TestArgsSummary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args string
		want string
	}{
		{`{"command":"ls -la"}`, "ls -la"},
		{`{"path":"/tmp/x","mode":"r"}`, "/tmp/x"},
		{`{"text":"hello\nworld"}`, "hello world"},
		{`{"b":2,"a":[1]}`, "a=[1] b=2"},
		{`{}`, ""},
		{``, ""},
		{`not json`, "not json"},
		{`{"command":"` + strings.Repeat("x", 200) + `"}`, strings.Repeat("x", maxArgsRunes-1) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			t.Parallel()
			if got := argsSummary(json.RawMessage(tt.args)); got != tt.want {
				t.Errorf("argsSummary(%s) = %q, want %q", tt.args, got, tt.want)
			}
		})
	}
}

func TestChatCapsRows(t *testing.T) {
	w, _ := newTestChat(t, ChatOptions{})
	w.ui.Locked(func() {
		for i := range maxRows + 10 {
			w.appendLive(newLineItem(itemNotice, fmt.Sprintf("row %d", i), nil))
		}
		if len(w.items) != maxRows || len(w.list.Objects) != maxRows {
			t.Errorf("rows = %d (objects %d), want %d", len(w.items), len(w.list.Objects), maxRows)
		}
		if got, want := w.items[len(w.items)-1].text(), fmt.Sprintf("row %d", maxRows+9); got != want {
			t.Errorf("last row = %q, want %q", got, want)
		}
	})
}

func TestChatStreamedRowGrows(t *testing.T) {
	a := test.NewTempApp(t)
	gw := fakegw.New(t)
	w := NewChat(t.Context(), a, gw.Dial(t), ChatOptions{SessionKey: testSession, UI: testUI})
	t.Cleanup(func() { w.ui.Locked(w.Close) })
	waitFor(t, w.ui, "empty history", func() bool { return strings.Contains(w.status.Text, "Say hello") })
	w.ui.Locked(w.Show)

	gw.Emit(api.EventChat, api.ChatEvent{RunID: "r1", SessionKey: testSession, State: api.ChatDelta, Delta: "Short."})
	waitFor(t, w.ui, "first delta", func() bool { return w.hasText("Short.") })
	gw.Emit(api.EventChat, api.ChatEvent{RunID: "r1", SessionKey: testSession, State: api.ChatDelta,
		Delta: strings.Repeat(" Then a much longer answer that has to wrap.", 12)})
	waitFor(t, w.ui, "second delta", func() bool { return w.hasText("has to wrap. Then") })
	w.ui.Locked(func() {
		// Fyne does not re-lay a box out when a row's text grows; without
		// a reflow the bubble keeps its one-line height and clips the text.
		row := w.items[len(w.items)-1].root
		if got, want := row.Size().Height, row.MinSize().Height; got < want {
			t.Errorf("streamed row is %.0f px high, needs %.0f", got, want)
		}
	})
}
