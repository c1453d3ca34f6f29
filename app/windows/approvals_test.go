package windows

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/app/internal/fakegw"
	"github.com/genos-project/genos/core/api"
)

func sampleApproval(id string) api.Approval {
	now := time.Now()
	return api.Approval{
		ID: id, AgentID: "main", SessionKey: testSession, RunID: "run-1",
		Tool: "exec", Category: "shell", Reason: "runs a command on your computer",
		Args:      json.RawMessage(`{"command":"rm -rf ~/tmp/cache","cwd":"/home/me","env":{"A":"1"}}`),
		CreatedAt: now.Add(-time.Minute), ExpiresAt: now.Add(5 * time.Minute),
	}
}

func newTestApprovals(t *testing.T, pending ...api.Approval) (*Approvals, *fakegw.Server) {
	t.Helper()
	a := test.NewTempApp(t)
	gw := fakegw.New(t)
	gw.SetApprovals(pending)
	w := NewApprovals(t.Context(), a, gw.Dial(t), ApprovalsOptions{UI: testUI})
	t.Cleanup(func() { w.ui.Locked(w.Close) })
	waitFor(t, w.ui, "approvals list", func() bool { return len(w.cards) == len(pending) && len(gw.Requests(api.MethodApprovalsList)) > 0 })
	return w, gw
}

func TestApprovalsEmptyState(t *testing.T) {
	w, _ := newTestApprovals(t)
	waitFor(t, w.ui, "empty state", func() bool { return w.empty.Visible() })
	w.ui.Locked(func() {
		if w.empty.Text != "No pending approvals" {
			t.Errorf("empty text = %q", w.empty.Text)
		}
	})
}

func TestApprovalsShowsFullArguments(t *testing.T) {
	ap := sampleApproval("ap1")
	w, _ := newTestApprovals(t, ap)
	w.ui.Locked(func() {
		if w.empty.Visible() {
			t.Error("empty state shown with a pending approval")
		}
		c := w.cards["ap1"]
		if c.root.Title != "exec" || c.root.Subtitle != "Category: shell" {
			t.Errorf("card title %q / %q", c.root.Title, c.root.Subtitle)
		}
		wantArgs := "{\n  \"command\": \"rm -rf ~/tmp/cache\",\n  \"cwd\": \"/home/me\",\n  \"env\": {\n    \"A\": \"1\"\n  }\n}"
		if diff := cmp.Diff(wantArgs, c.args.Text); diff != "" {
			t.Errorf("args (-want +got):\n%s", diff)
		}
		for _, want := range []string{"Session " + testSession, "agent main", "expires in "} {
			if !strings.Contains(c.details.Text, want) {
				t.Errorf("details %q lack %q", c.details.Text, want)
			}
		}
		// The arguments are read-only.
		test.Type(c.args, "x")
		c.args.TypedKey(&fyne.KeyEvent{Name: fyne.KeyBackspace})
		cb := test.NewClipboard()
		cb.SetContent("EVIL")
		c.args.TypedShortcut(&fyne.ShortcutPaste{Clipboard: cb})
		if c.args.Text != wantArgs {
			t.Errorf("read-only args changed to %q", c.args.Text)
		}
	})
}

func TestApprovalsResolve(t *testing.T) {
	tests := []struct {
		button   int // index into card.buttons
		decision string
	}{
		{0, api.DecisionAllowOnce},
		{1, api.DecisionAllowAlways},
		{2, api.DecisionDeny},
	}
	for _, tt := range tests {
		t.Run(tt.decision, func(t *testing.T) {
			w, gw := newTestApprovals(t, sampleApproval("ap1"))
			w.ui.Locked(func() { test.Tap(w.cards["ap1"].buttons[tt.button]) })
			var p api.ApprovalsResolveParams
			if err := gw.WaitRequest(t, api.MethodApprovalsResolve, 1).Decode(&p); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(api.ApprovalsResolveParams{ID: "ap1", Decision: tt.decision}, p); diff != "" {
				t.Errorf("approvals.resolve params (-want +got):\n%s", diff)
			}
			waitFor(t, w.ui, "card removed and empty state", func() bool { return len(w.cards) == 0 && w.empty.Visible() })
		})
	}
}

func TestApprovalsRefreshOnEvents(t *testing.T) {
	w, gw := newTestApprovals(t)
	ap := sampleApproval("ap2")
	gw.SetApprovals([]api.Approval{ap})
	gw.Emit(api.EventApprovalRequested, ap)
	waitFor(t, w.ui, "new approval", func() bool { return w.cards["ap2"] != nil && !w.empty.Visible() })

	gw.SetApprovals(nil)
	gw.Emit(api.EventApprovalResolved, api.ApprovalResolvedEvent{ID: "ap2", Decision: api.DecisionTimeout})
	waitFor(t, w.ui, "approval gone", func() bool { return len(w.cards) == 0 && w.empty.Visible() })
}

func TestApprovalsResolveError(t *testing.T) {
	w, gw := newTestApprovals(t, sampleApproval("ap1"))
	gw.Handle(api.MethodApprovalsResolve, func(json.RawMessage) (any, *api.ErrorShape) {
		return nil, api.Errorf(api.CodeLocked, "vault is locked")
	})
	w.ui.Locked(func() { test.Tap(w.cards["ap1"].buttons[0]) })
	waitFor(t, w.ui, "error on the card", func() bool { return w.cards["ap1"].errLabel.Visible() })
	w.ui.Locked(func() {
		c := w.cards["ap1"]
		if want := "Your decision was not recorded. Genos is locked. Unlock it and try again."; c.errLabel.Text != want {
			t.Errorf("error = %q, want %q", c.errLabel.Text, want)
		}
		for _, b := range c.buttons {
			if b.Disabled() {
				t.Errorf("button %q still disabled after the error", b.Text)
			}
		}
	})
}

func TestApprovalsAnsweredElsewhere(t *testing.T) {
	w, gw := newTestApprovals(t, sampleApproval("ap1"))
	gw.SetApprovals(nil) // answered by another client: resolve now says NOT_FOUND
	w.ui.Locked(func() { test.Tap(w.cards["ap1"].buttons[2]) })
	waitFor(t, w.ui, "status", func() bool { return w.status.Visible() && len(w.cards) == 0 })
	w.ui.Locked(func() {
		if !strings.Contains(w.status.Text, "no longer pending") {
			t.Errorf("status = %q", w.status.Text)
		}
	})
}

func TestExpiresIn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "expired"},
		{0, "expired"},
		{42 * time.Second, "expires in 42s"},
		{4*time.Minute + 12*time.Second, "expires in 4m 12s"},
		{2*time.Hour + 5*time.Minute, "expires in 2h 05m"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			if got := expiresIn(tt.d); got != tt.want {
				t.Errorf("expiresIn(%v) = %q, want %q", tt.d, got, tt.want)
			}
		})
	}
}

func TestPrettyArgs(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{`{"a":1}`, "{\n  \"a\": 1\n}"},
		{`  `, "(no arguments)"},
		{`{broken`, `{broken`},
	}
	for _, tt := range tests {
		if got := prettyArgs(json.RawMessage(tt.in)); got != tt.want {
			t.Errorf("prettyArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestArgsRows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		want int
	}{
		{"{}", 3},
		{"{\n  \"a\": 1,\n  \"b\": 2\n}", 4},
		{"{\n  \"url\": \"" + strings.Repeat("x", 140) + "\"\n}", 5},
		{strings.Repeat("line\n", 40), 14},
	}
	for _, tt := range tests {
		if got := argsRows(tt.text); got != tt.want {
			t.Errorf("argsRows(%.20q…) = %d, want %d", tt.text, got, tt.want)
		}
	}
}
