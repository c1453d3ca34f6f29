package app

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/app/internal/fakegw"
	"github.com/genos-project/genos/app/tray"
	"github.com/genos-project/genos/app/windows"
	"github.com/genos-project/genos/core/api"
)

// trayApp adds the desktop tray and a notification log to Fyne's test app.
type trayApp struct {
	fyne.App
	mu      sync.Mutex
	menu    *fyne.Menu
	icon    fyne.Resource
	trayWin fyne.Window
	notes   []*fyne.Notification
}

func (a *trayApp) SetSystemTrayMenu(m *fyne.Menu) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.menu = m
}

func (a *trayApp) SetSystemTrayIcon(r fyne.Resource) {
	if r == nil {
		panic("nil tray icon") // the real driver panics too
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.icon = r
}

func (a *trayApp) SetSystemTrayWindow(w fyne.Window) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.trayWin = w
}

func (a *trayApp) SendNotification(n *fyne.Notification) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.notes = append(a.notes, n)
}

func (a *trayApp) labels() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.menu == nil {
		return nil
	}
	var out []string
	for _, m := range a.menu.Items {
		if m.IsSeparator {
			out = append(out, "---")
			continue
		}
		out = append(out, m.Label)
	}
	return out
}

// waitUI polls cond under the controller's UI lock until it holds; the
// deadline only guards against hangs.
func waitUI(t *testing.T, u *ui, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ok bool
		u.fx.Locked(func() { ok = cond() })
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testUI is shared by every controller and window the tests start, so that
// goroutines left over from an earlier test are serialised with the current
// one.
var testUI = new(windows.UI)

func startUI(t *testing.T, gw *fakegw.Server, o Options) (*ui, *trayApp) {
	t.Helper()
	a := &trayApp{App: test.NewTempApp(t)}
	if o.Connect == nil {
		o.Connect = gw.DialContext
	}
	if o.SaveSetup == nil {
		o.SaveSetup = func(context.Context, Setup) error { return nil }
	}
	ctx, cancel := context.WithCancel(t.Context())
	u := newUI(ctx, a, o, testUI)
	testUI.Locked(u.start)
	t.Cleanup(func() {
		cancel()
		u.wait()
	})
	return u, a
}

func TestUIConnectsAndRendersTray(t *testing.T) {
	gw := fakegw.New(t)
	gw.SetApprovals([]api.Approval{{ID: "a1", SessionKey: "agent:main:main", Tool: "exec"}})
	u, a := startUI(t, gw, Options{Version: "0.1.0"})
	waitUI(t, u, "status applied", func() bool { return u.state.PendingApprovals == 1 })

	want := []string{"Genos — ready · test-model", "Unlocked", "---", "Open Chat", "Approvals (1)", "Channels…", "---", "Lock Now", "Quit Genos"}
	if diff := cmp.Diff(want, a.labels()); diff != "" {
		t.Errorf("tray menu (-want +got):\n%s", diff)
	}
	a.mu.Lock()
	if a.icon == nil || len(a.icon.Content()) == 0 {
		t.Error("no tray icon set")
	}
	last := a.menu.Items[len(a.menu.Items)-1]
	a.mu.Unlock()
	if !last.IsQuit {
		t.Error("the quit item is not marked IsQuit, so the systray would add a second Quit")
	}
	testUI.Locked(func() {
		if u.sessionKey != "agent:main:main" {
			t.Errorf("session key = %q", u.sessionKey)
		}
	})
}

func TestUIApprovalNotifiesAndCounts(t *testing.T) {
	gw := fakegw.New(t)
	u, a := startUI(t, gw, Options{})
	waitUI(t, u, "connected", func() bool { return u.state.Connected && u.sessionKey != "" })

	ap := api.Approval{ID: "a2", AgentID: "main", SessionKey: "agent:main:main", Tool: "exec"}
	gw.SetApprovals([]api.Approval{ap})
	gw.Emit(api.EventApprovalRequested, ap)
	waitUI(t, u, "approval counted", func() bool { return u.state.PendingApprovals == 1 })
	waitUI(t, u, "notification", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.notes) == 1
	})
	a.mu.Lock()
	n := a.notes[0]
	a.mu.Unlock()
	if n.Title != "Genos needs your approval" || !strings.Contains(n.Content, "main wants to run exec") {
		t.Errorf("notification = %q / %q", n.Title, n.Content)
	}
	if got := a.labels()[4]; got != "Approvals (1)" {
		t.Errorf("approvals item = %q", got)
	}
}

func TestUIReconnects(t *testing.T) {
	gw := fakegw.New(t)
	u, a := startUI(t, gw, Options{})
	waitUI(t, u, "connected", func() bool { return u.state.Connected })
	gw.DropConnections()
	waitUI(t, u, "reconnected", func() bool { return u.state.Connected && gw.Conns() == 1 })
	if got := len(gw.Requests(api.MethodStatus)); got == 0 {
		t.Error("no status call after reconnecting")
	}
	if labels := a.labels(); len(labels) == 0 || !strings.HasPrefix(labels[0], "Genos — ready") {
		t.Errorf("tray after reconnect: %q", labels)
	}
}

func TestUINotConnected(t *testing.T) {
	gw := fakegw.New(t)
	dials := make(chan struct{}, 16)
	u, a := startUI(t, gw, Options{Connect: func(ctx context.Context) (*api.Client, error) {
		select {
		case dials <- struct{}{}:
		default:
		}
		return nil, api.Errorf(api.CodeUnauthorized, "bad token")
	}})
	waitUI(t, u, "error state", func() bool { return u.state.Err != "" })
	labels := a.labels()
	if len(labels) == 0 || labels[0] != "Genos — not connected: the gateway refused the token" {
		t.Errorf("status line = %q", labels)
	}
	a.mu.Lock()
	chat := a.menu.Items[2]
	a.mu.Unlock()
	if chat.Label != "Open Chat" || !chat.Disabled {
		t.Errorf("Open Chat item %+v should be disabled while not connected", chat)
	}
}

func TestUIOnboardingThenChat(t *testing.T) {
	gw := fakegw.New(t)
	gw.SetStatus(api.StatusResult{DefaultAgent: api.Agent{ID: "main"}})
	saved := make(chan Setup, 1)
	u, a := startUI(t, gw, Options{
		NeedsOnboarding: true,
		SaveSetup: func(_ context.Context, s Setup) error {
			saved <- s
			gw.SetStatus(api.StatusResult{DefaultAgent: api.Agent{ID: "main"}, ModelConfigured: true, Model: "llama3.2"})
			return nil
		},
		ProbeLocal: func(context.Context) (LocalServer, bool) {
			return LocalServer{BaseURL: "http://127.0.0.1:11434/v1", Models: []string{"llama3.2"}}, true
		},
	})
	waitUI(t, u, "onboarding shown and setup offered", func() bool {
		return u.onboarding != nil && u.onboarding.Window() != nil && slices.Contains(a.labels(), "Set Up Model…")
	})
	// Drive the window through its own Save button: the probe preselected
	// the local server and its first model.
	var w fyne.Window
	testUI.Locked(func() { w = u.onboarding.Window() })
	waitUI(t, u, "probe applied", func() bool { return strings.Contains(canvasText(w.Content()), "Found a model server") })
	testUI.Locked(func() { tapButton(t, w.Content(), "Save and Start Chatting") })
	var got Setup
	select {
	case got = <-saved:
	case <-time.After(10 * time.Second): // guards against a hang only
		var text string
		testUI.Locked(func() { text = canvasText(w.Content()) })
		t.Fatalf("SaveSetup not called; window shows:\n%s", text)
	}
	if diff := cmp.Diff(Setup{Provider: "openai", BaseURL: "http://127.0.0.1:11434/v1", Model: "llama3.2"}, got); diff != "" {
		t.Errorf("SaveSetup (-want +got):\n%s", diff)
	}
	waitUI(t, u, "chat opened", func() bool { return u.chat != nil })
	waitUI(t, u, "setup item gone", func() bool { return !slices.Contains(a.labels(), "Set Up Model…") })
	a.mu.Lock()
	trayWin := a.trayWin
	a.mu.Unlock()
	if trayWin == nil {
		t.Error("chat window not attached to the tray icon")
	}
}

func TestUIQuit(t *testing.T) {
	gw := fakegw.New(t)
	quit := make(chan struct{}, 1)
	u, a := startUI(t, gw, Options{OnQuit: func() { quit <- struct{}{} }})
	waitUI(t, u, "menu", func() bool { return len(a.labels()) > 0 })
	a.mu.Lock()
	item := a.menu.Items[len(a.menu.Items)-1]
	a.mu.Unlock()
	testUI.Locked(item.Action)
	select {
	case <-quit:
	default:
		t.Error("OnQuit not called")
	}
}

func TestBuildMenu(t *testing.T) {
	var got []string
	m := buildMenu(tray.Menu(tray.State{Connected: true}), func(id string) { got = append(got, id) })
	for _, it := range m.Items {
		if !it.IsSeparator && !it.Disabled {
			it.Action()
		}
	}
	if diff := cmp.Diff([]string{tray.IDChat, tray.IDApprovals, tray.IDChannels, tray.IDSetup, tray.IDQuit}, got); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
	if !m.Items[0].Disabled {
		t.Error("status line is clickable")
	}
}

func TestRunValidatesOptions(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no connect", Options{SaveSetup: func(context.Context, Setup) error { return nil }}, "Connect is required"},
		{"no save", Options{Connect: func(context.Context) (*api.Client, error) { return nil, nil }}, "SaveSetup is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Run(t.Context(), tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// walk visits o and everything inside it, including widgets' internals.
func walk(o fyne.CanvasObject, f func(fyne.CanvasObject)) {
	f(o)
	switch x := o.(type) {
	case *fyne.Container:
		for _, c := range x.Objects {
			walk(c, f)
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(x).Objects() {
			walk(c, f)
		}
	}
}

// canvasText joins the text of every label under o.
func canvasText(o fyne.CanvasObject) string {
	var b strings.Builder
	walk(o, func(c fyne.CanvasObject) {
		if l, ok := c.(*widget.Label); ok {
			b.WriteString(l.Text + "\n")
		}
	})
	return b.String()
}

// tapButton taps the button labelled label under o.
func tapButton(t *testing.T, o fyne.CanvasObject, label string) {
	t.Helper()
	var btn *widget.Button
	walk(o, func(c fyne.CanvasObject) {
		if b, ok := c.(*widget.Button); ok && b.Text == label {
			btn = b
		}
	})
	if btn == nil {
		t.Fatalf("no button %q", label)
	}
	test.Tap(btn)
}
