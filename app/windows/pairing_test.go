package windows

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/app/internal/fakegw"
	"github.com/genos-project/genos/core/api"
)

func samplePairing(channel, code, peer, name string) api.PairingRequest {
	now := time.Now()
	return api.PairingRequest{Channel: channel, Code: code, Peer: peer, PeerName: name,
		CreatedAt: now.Add(-17 * time.Minute), ExpiresAt: now.Add(43 * time.Minute)}
}

func newTestPairing(t *testing.T, pending ...api.PairingRequest) (*Pairing, *fakegw.Server) {
	t.Helper()
	a := test.NewTempApp(t)
	gw := fakegw.New(t)
	gw.SetPairings(pending)
	w := NewPairing(t.Context(), a, gw.Dial(t), PairingOptions{UI: testUI})
	t.Cleanup(func() { w.ui.Locked(w.Close) })
	waitFor(t, w.ui, "pairing list", func() bool { return w.loaded })
	return w, gw
}

func TestPairingEmptyState(t *testing.T) {
	w, _ := newTestPairing(t)
	w.ui.Locked(func() {
		if !w.empty.Visible() || w.empty.Text != "No pending pairing requests" {
			t.Errorf("empty state visible %v, text %q", w.empty.Visible(), w.empty.Text)
		}
	})
}

func TestPairingShowsRequests(t *testing.T) {
	w, _ := newTestPairing(t,
		samplePairing("telegram", "ABCD2345", "12345", "Ana"),
		samplePairing("whatsapp", "WXYZ6789", "34600999888", ""))
	w.ui.Locked(func() {
		if w.empty.Visible() {
			t.Error("empty state shown with pending requests")
		}
		ana := w.cards["telegram/ABCD2345"]
		if ana == nil || ana.root.Title != "Ana" || ana.root.Subtitle != "on Telegram" {
			t.Fatalf("Ana's card: %+v", ana)
		}
		for _, want := range []string{"ID 12345", "asked ", "expires in 43 min"} {
			if !strings.Contains(ana.details.Text, want) {
				t.Errorf("details %q lack %q", ana.details.Text, want)
			}
		}
		if !strings.Contains(canvasLabels(ana.root), "Code: ABCD2345") {
			t.Errorf("the code is not shown on the card:\n%s", canvasLabels(ana.root))
		}
		// Without a name the peer id stands in.
		if c := w.cards["whatsapp/WXYZ6789"]; c == nil || c.root.Title != "34600999888" || c.root.Subtitle != "on WhatsApp" {
			t.Errorf("nameless card: %+v", c)
		}
	})
}

func TestPairingDecide(t *testing.T) {
	tests := []struct {
		button int // index into card.buttons
		method string
		status string
	}{
		{0, api.MethodPairingApprove, "Ana can now talk to Genos on Telegram."},
		{1, api.MethodPairingDeny, "Denied: Genos will not answer Ana on Telegram."},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			w, gw := newTestPairing(t, samplePairing("telegram", "ABCD2345", "12345", "Ana"))
			w.ui.Locked(func() { test.Tap(w.cards["telegram/ABCD2345"].buttons[tt.button]) })
			var p api.PairingDecisionParams
			if err := gw.WaitRequest(t, tt.method, 1).Decode(&p); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(api.PairingDecisionParams{Channel: "telegram", Code: "ABCD2345"}, p); diff != "" {
				t.Errorf("%s params (-want +got):\n%s", tt.method, diff)
			}
			waitFor(t, w.ui, "card removed", func() bool { return len(w.cards) == 0 && w.empty.Visible() })
			waitFor(t, w.ui, "status", func() bool { return w.status.Text == tt.status && w.status.Visible() })
		})
	}
}

func TestPairingRefreshOnEvents(t *testing.T) {
	w, gw := newTestPairing(t)
	gw.RequestPairing(samplePairing("telegram", "ABCD2345", "12345", "Ana"))
	waitFor(t, w.ui, "new request", func() bool { return w.cards["telegram/ABCD2345"] != nil && !w.empty.Visible() })
	gw.RequestPairing(samplePairing("whatsapp", "WXYZ6789", "34600999888", "Bo"))
	waitFor(t, w.ui, "second request", func() bool { return len(w.cards) == 2 })

	gw.ExpirePairing("telegram", "ABCD2345")
	waitFor(t, w.ui, "expired request gone", func() bool {
		return w.cards["telegram/ABCD2345"] == nil && w.cards["whatsapp/WXYZ6789"] != nil
	})
	gw.ExpirePairing("whatsapp", "WXYZ6789")
	waitFor(t, w.ui, "empty again", func() bool { return len(w.cards) == 0 && w.empty.Visible() })
	if n := len(gw.Requests(api.MethodPairingList)); n < 5 {
		t.Errorf("pairing list asked %d times, want once at start and once per event", n)
	}
}

func TestPairingAnsweredElsewhere(t *testing.T) {
	w, gw := newTestPairing(t, samplePairing("telegram", "ABCD2345", "12345", "Ana"))
	gw.SetPairings(nil) // answered by another client: approve now says NOT_FOUND
	w.ui.Locked(func() { test.Tap(w.cards["telegram/ABCD2345"].buttons[0]) })
	waitFor(t, w.ui, "status", func() bool { return w.status.Visible() && len(w.cards) == 0 })
	w.ui.Locked(func() {
		if !strings.Contains(w.status.Text, "no longer pending") {
			t.Errorf("status = %q", w.status.Text)
		}
	})
}

func TestPairingDecideError(t *testing.T) {
	w, gw := newTestPairing(t, samplePairing("telegram", "ABCD2345", "12345", "Ana"))
	gw.LockVault()
	w.ui.Locked(func() { test.Tap(w.cards["telegram/ABCD2345"].buttons[1]) })
	gw.WaitRequest(t, api.MethodPairingDeny, 1)
	waitFor(t, w.ui, "error on the card", func() bool { return w.cards["telegram/ABCD2345"].errLabel.Visible() })
	w.ui.Locked(func() {
		c := w.cards["telegram/ABCD2345"]
		if want := "Your decision was not recorded. Genos is locked. Unlock it and try again."; c.errLabel.Text != want {
			t.Errorf("error = %q, want %q", c.errLabel.Text, want)
		}
		if c.errLabel.Importance != widget.DangerImportance {
			t.Errorf("error importance = %v", c.errLabel.Importance)
		}
		for _, b := range c.buttons {
			if b.Disabled() {
				t.Errorf("button %q still disabled after the error", b.Text)
			}
		}
	})
}

func TestPairingExpiresIn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "expired"},
		{0, "expired"},
		{10 * time.Second, "expires in 1 min"},
		{42*time.Minute + 30*time.Second, "expires in 43 min"},
		{43 * time.Minute, "expires in 43 min"},
		{60 * time.Minute, "expires in 1 h 00 min"},
		{90*time.Minute + time.Second, "expires in 1 h 31 min"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			if got := pairingExpiresIn(tt.d); got != tt.want {
				t.Errorf("pairingExpiresIn(%v) = %q, want %q", tt.d, got, tt.want)
			}
		})
	}
}

// canvasLabels joins the text of every label under o.
func canvasLabels(o fyne.CanvasObject) string {
	var b strings.Builder
	walkObjects(o, func(c fyne.CanvasObject) {
		if l, ok := c.(*widget.Label); ok {
			b.WriteString(l.Text + "\n")
		}
	})
	return b.String()
}
