package windows

import (
	"image"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/app/internal/fakegw"
	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/chat"
)

const testBotToken = "123456789:AAFakeTokenForTests_0123456789abcdef"

func newTestChannels(t *testing.T, channels ...chat.ChannelStatus) (*Channels, *fakegw.Server) {
	t.Helper()
	a := test.NewTempApp(t)
	gw := fakegw.New(t)
	gw.SetChannels(channels)
	w := NewChannels(t.Context(), a, gw.Dial(t), ChannelsOptions{UI: testUI})
	t.Cleanup(func() { w.ui.Locked(w.Close) })
	waitFor(t, w.ui, "channels loaded", func() bool { return w.loaded })
	return w, gw
}

func TestChannelsShowsStates(t *testing.T) {
	w, gw := newTestChannels(t)
	w.ui.Locked(func() {
		if w.tg.state.Text != "Not set up yet." || w.wa.state.Text != "Not linked yet." {
			t.Errorf("states with nothing configured: %q / %q", w.tg.state.Text, w.wa.state.Text)
		}
		if !w.tg.off.Disabled() || !w.wa.logout.Disabled() || w.wa.link.Disabled() {
			t.Error("want Turn off and Log out disabled and Link enabled with nothing configured")
		}
	})
	gw.ChangeChannels([]chat.ChannelStatus{
		{Channel: "telegram", State: chat.ChannelFailed, Reason: "Telegram refused the bot token"},
		{Channel: "whatsapp", State: chat.ChannelConnected, Account: "34600111222"},
	})
	waitFor(t, w.ui, "states from channels.changed", func() bool {
		return w.tg.state.Text == "Not working: Telegram refused the bot token." &&
			w.wa.state.Text == "Connected as +34600111222."
	})
	w.ui.Locked(func() {
		if w.tg.state.Importance != widget.DangerImportance || w.wa.state.Importance != widget.SuccessImportance {
			t.Errorf("state colours %v / %v", w.tg.state.Importance, w.wa.state.Importance)
		}
		if w.tg.off.Disabled() || w.wa.logout.Disabled() || !w.wa.link.Disabled() {
			t.Error("want Turn off and Log out enabled and Link disabled once configured and linked")
		}
	})
}

func TestChannelsTelegramSaveToken(t *testing.T) {
	w, gw := newTestChannels(t)
	w.ui.Locked(func() {
		test.Type(w.tg.token, "  "+testBotToken+" ")
		test.Tap(w.tg.save)
	})
	var p api.ChannelsSetParams
	if err := gw.WaitRequest(t, api.MethodChannelsSet, 1).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(api.ChannelsSetParams{Channel: "telegram", Enabled: true, Token: testBotToken}, p); diff != "" {
		t.Errorf("channels.set params (-want +got):\n%s", diff)
	}
	waitFor(t, w.ui, "saved", func() bool { return w.tg.msg.Visible() && !w.tg.busy })
	w.ui.Locked(func() {
		if w.tg.token.Text != "" {
			t.Error("the token is still in the field after saving")
		}
		if w.tg.msg.Importance != widget.SuccessImportance || !strings.HasPrefix(w.tg.msg.Text, "Saved.") {
			t.Errorf("message = %q (%v)", w.tg.msg.Text, w.tg.msg.Importance)
		}
		if want := "Connected as " + fakegw.BotAccount + "."; w.tg.state.Text != want {
			t.Errorf("state = %q, want %q", w.tg.state.Text, want)
		}
	})
	if got := gw.Token("telegram"); got != testBotToken {
		t.Errorf("stored token = %q", got)
	}
}

func TestChannelsTelegramSaveError(t *testing.T) {
	w, gw := newTestChannels(t)
	gw.LockVault() // channels.set now answers VAULT_LOCKED
	w.ui.Locked(func() {
		test.Type(w.tg.token, testBotToken)
		test.Tap(w.tg.save)
	})
	gw.WaitRequest(t, api.MethodChannelsSet, 1)
	waitFor(t, w.ui, "error shown", func() bool { return w.tg.msg.Visible() && !w.tg.busy })
	w.ui.Locked(func() {
		if want := "The token was not saved. Genos is locked. Unlock it and try again."; w.tg.msg.Text != want {
			t.Errorf("message = %q, want %q", w.tg.msg.Text, want)
		}
		if w.tg.msg.Importance != widget.DangerImportance {
			t.Errorf("message importance = %v", w.tg.msg.Importance)
		}
		if w.tg.token.Text != testBotToken {
			t.Error("the token was cleared although it was not saved; the user would have to paste it again")
		}
		if w.tg.save.Disabled() {
			t.Error("Save & Connect stays disabled after the error")
		}
	})
}

func TestChannelsTelegramRejectsBadInput(t *testing.T) {
	tests := []struct {
		name, token, want string
	}{
		{"empty and not set up", "", "Paste the bot token from @BotFather first."},
		{"no colon", "AAFakeTokenForTests_0123456789", "That does not look like a bot token."},
		{"secret cut short", "123456789:AAF", "That does not look like a bot token."},
		{"letters in the id", "12x456789:AAFakeTokenForTests_0123456789", "That does not look like a bot token."},
		{"space inside", "123456789:AAFakeToken ForTests_0123456789", "That does not look like a bot token."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, gw := newTestChannels(t)
			w.ui.Locked(func() {
				test.Type(w.tg.token, tt.token)
				test.Tap(w.tg.save)
				if !strings.HasPrefix(w.tg.msg.Text, tt.want) || !w.tg.msg.Visible() {
					t.Errorf("message = %q, want it to start with %q", w.tg.msg.Text, tt.want)
				}
			})
			if n := len(gw.Requests(api.MethodChannelsSet)); n != 0 {
				t.Errorf("sent %d channels.set for a bad token", n)
			}
		})
	}
}

func TestChannelsTelegramTurnOff(t *testing.T) {
	w, gw := newTestChannels(t, chat.ChannelStatus{Channel: "telegram", State: chat.ChannelConnected, Account: "@mybot"})
	w.ui.Locked(func() { test.Tap(w.tg.off) })
	var p api.ChannelsSetParams
	if err := gw.WaitRequest(t, api.MethodChannelsSet, 1).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(api.ChannelsSetParams{Channel: "telegram", Enabled: false}, p); diff != "" {
		t.Errorf("channels.set params (-want +got):\n%s", diff)
	}
	waitFor(t, w.ui, "turned off", func() bool { return w.tg.state.Text == "Turned off." && w.tg.off.Disabled() })
}

// qrShown returns the code on screen and whether the QR image is visible.
func (w *Channels) qrShown() (string, bool) {
	return w.wa.code, w.wa.qr.Visible() && w.wa.qr.Image != nil && w.wa.qrView.Visible()
}

func TestChannelsWhatsAppQRFlow(t *testing.T) {
	w, gw := newTestChannels(t)
	step := make(chan struct{})
	codes := fakegw.DefaultLogin().Codes
	gw.SetLogin(fakegw.Login{Codes: codes, Step: step})
	w.ui.Locked(func() { test.Tap(w.wa.link) })
	gw.WaitRequest(t, api.MethodChannelsLogin, 1)

	for i, code := range codes {
		if i > 0 {
			step <- struct{}{}
		}
		waitFor(t, w.ui, "QR code "+code, func() bool { c, ok := w.qrShown(); return ok && c == code })
		w.ui.Locked(func() {
			want, err := qrImage(code)
			if err != nil {
				t.Fatal(err)
			}
			if !sameImage(want, w.wa.qr.Image) {
				t.Errorf("the image shown is not the QR code of %q", code)
			}
			if w.wa.waiting.Visible() || !w.wa.link.Disabled() || !w.wa.logout.Disabled() {
				t.Error("want the waiting line hidden and Link and Log out disabled while a code shows")
			}
		})
	}
	step <- struct{}{} // the phone scanned it
	waitFor(t, w.ui, "linked", func() bool { return !w.wa.linking && w.wa.msg.Visible() })
	w.ui.Locked(func() {
		if _, shown := w.qrShown(); shown {
			t.Error("the QR view is still open after linking")
		}
		if want := "WhatsApp is linked to +" + fakegw.WhatsAppAccount + ". Genos now answers messages sent to this number."; w.wa.msg.Text != want {
			t.Errorf("message = %q, want %q", w.wa.msg.Text, want)
		}
		if w.wa.msg.Importance != widget.SuccessImportance {
			t.Errorf("message importance = %v", w.wa.msg.Importance)
		}
		if want := "Connected as +" + fakegw.WhatsAppAccount + "."; w.wa.state.Text != want {
			t.Errorf("state = %q, want %q", w.wa.state.Text, want)
		}
	})
}

func TestChannelsWhatsAppLoginFails(t *testing.T) {
	w, gw := newTestChannels(t)
	step := make(chan struct{})
	gw.SetLogin(fakegw.Login{Codes: []string{"2@only-code"}, Step: step,
		Err: api.Errorf(api.CodeInternal, "channels.login failed: whatsapp login: whatsapp: login timed out; no QR code was scanned")})
	w.ui.Locked(func() { test.Tap(w.wa.link) })
	waitFor(t, w.ui, "the code", func() bool { _, ok := w.qrShown(); return ok })
	step <- struct{}{}
	waitFor(t, w.ui, "the error", func() bool { return !w.wa.linking && w.wa.msg.Visible() })
	w.ui.Locked(func() {
		want := "WhatsApp was not linked: the code was not scanned in time. Press “Link WhatsApp…” to try again."
		if w.wa.msg.Text != want || w.wa.msg.Importance != widget.DangerImportance {
			t.Errorf("message = %q (%v), want %q", w.wa.msg.Text, w.wa.msg.Importance, want)
		}
		if _, shown := w.qrShown(); shown || w.wa.link.Disabled() {
			t.Error("want the QR view closed and Link enabled again after a failed login")
		}
	})
}

func TestChannelsWhatsAppCancel(t *testing.T) {
	w, gw := newTestChannels(t)
	step := make(chan struct{}) // never stepped: the phone never scans
	gw.SetLogin(fakegw.Login{Codes: []string{"2@first"}, Step: step})
	w.ui.Locked(func() { test.Tap(w.wa.link) })
	waitFor(t, w.ui, "the code", func() bool { _, ok := w.qrShown(); return ok })
	w.ui.Locked(func() {
		tapButtonIn(t, w.wa.qrView, "Cancel")
		if _, shown := w.qrShown(); shown || w.wa.linking || w.wa.msg.Text != "Linking cancelled." {
			t.Errorf("after Cancel: linking %v, message %q", w.wa.linking, w.wa.msg.Text)
		}
	})
	// A code from the abandoned login is not shown.
	gw.Emit(api.EventChannelQR, api.ChannelQREvent{Channel: "whatsapp", Code: "2@late"})
	gw.Emit(api.EventChannelsChanged, api.ChannelsStatusResult{}) // a marker after the code
	waitFor(t, w.ui, "events handled", func() bool { return w.wa.state.Text == "Not linked yet." })
	w.ui.Locked(func() {
		if c, shown := w.qrShown(); shown || c != "" {
			t.Errorf("a code arrived after Cancel was shown: %q", c)
		}
	})
}

func TestChannelsWhatsAppLogout(t *testing.T) {
	w, gw := newTestChannels(t, chat.ChannelStatus{Channel: "whatsapp", State: chat.ChannelConnected, Account: "34600111222"})
	w.ui.Locked(func() {
		test.Tap(w.wa.logout)
		tapButtonIn(t, w.win.Canvas().Overlays().Top(), "Log out") // the confirmation
	})
	var p api.ChannelParams
	if err := gw.WaitRequest(t, api.MethodChannelsLogout, 1).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p.Channel != "whatsapp" {
		t.Errorf("logout channel = %q", p.Channel)
	}
	waitFor(t, w.ui, "logged out", func() bool { return w.wa.state.Text == "Turned off." && !w.wa.busy })
	w.ui.Locked(func() {
		if !strings.HasPrefix(w.wa.msg.Text, "Logged out.") || w.wa.link.Disabled() {
			t.Errorf("message %q, link disabled %v", w.wa.msg.Text, w.wa.link.Disabled())
		}
	})
}

func TestChannelStateText(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 4, 15, 0, 0, 0, time.Local)
	tests := []struct {
		name    string
		channel string
		st      chat.ChannelStatus
		ok      bool
		want    string
	}{
		{"telegram not set up", "telegram", chat.ChannelStatus{}, false, "Not set up yet."},
		{"whatsapp not linked", "whatsapp", chat.ChannelStatus{}, false, "Not linked yet."},
		{"connected with last message", "telegram", chat.ChannelStatus{Channel: "telegram", State: chat.ChannelConnected,
			Account: "@mybot", LastInbound: now.Add(-time.Hour)}, true, "Connected as @mybot. Last message 14:00."},
		{"connecting", "telegram", chat.ChannelStatus{State: chat.ChannelConnecting}, true, "Connecting…"},
		{"reconnecting with reason", "whatsapp", chat.ChannelStatus{State: chat.ChannelReconnecting, Reason: "network down"}, true,
			"Connection lost; reconnecting… (network down)"},
		{"telegram login required", "telegram", chat.ChannelStatus{State: chat.ChannelLoginRequired}, true, "Telegram needs a new token."},
		{"whatsapp login required", "whatsapp", chat.ChannelStatus{State: chat.ChannelLoginRequired}, true, "Not linked: link your phone below."},
		{"failed without reason", "telegram", chat.ChannelStatus{State: chat.ChannelFailed}, true, "Not working."},
		{"stopped", "telegram", chat.ChannelStatus{State: chat.ChannelStopped, Reason: "turned off"}, true, "Turned off."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := channelStateText(tt.channel, tt.st, tt.ok, now); got != tt.want {
				t.Errorf("channelStateText = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoginError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"client version", api.Errorf(api.CodeInternal, "whatsapp: login: WhatsApp rejected this client version; update Genos"),
			"WhatsApp was not linked: WhatsApp refused this version of Genos. Update Genos and try again."},
		{"closed", api.Errorf(api.CodeInternal, "whatsapp: login: WhatsApp closed the connection before a code was scanned"),
			"WhatsApp was not linked: WhatsApp closed the connection before a code was scanned. Please try again."},
		{"other internal error stays in the log", api.Errorf(api.CodeInternal, "whatsapp: login: connect: dial tcp: i/o timeout"),
			"WhatsApp was not linked: something went wrong (the Genos log has the details). Please try again."},
		{"locked", api.Errorf(api.CodeLocked, "vault is locked"), "WhatsApp was not linked. Genos is locked. Unlock it and try again."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := loginError(tt.err); got != tt.want {
				t.Errorf("loginError = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestQRImage(t *testing.T) {
	t.Parallel()
	img, err := qrImage(fakegw.DefaultLogin().Codes[0])
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	if b.Dx() != b.Dy() || b.Dx() < qrSize {
		t.Fatalf("QR image is %dx%d, want a square of at least %d pixels", b.Dx(), b.Dy(), qrSize)
	}
	dark := func(x, y int) bool { r, _, _, _ := img.At(x, y).RGBA(); return r < 0x8000 }
	// The quiet zone is white all round; the finder pattern's corner
	// starts just inside it.
	for i := range b.Dx() {
		if dark(i, 0) || dark(0, i) || dark(i, b.Dy()-1) || dark(b.Dx()-1, i) {
			t.Fatalf("the border is not white at %d", i)
		}
	}
	var firstDark int
	for firstDark = 0; firstDark < b.Dx() && !dark(firstDark, firstDark); firstDark++ {
	}
	if firstDark == b.Dx() || firstDark%4 != 0 {
		t.Errorf("the finder pattern starts at %d; want it after a 4-module border", firstDark)
	}
	if _, err := qrImage(strings.Repeat("x", 8000)); err == nil {
		t.Error("qrImage accepted text too long for any QR code")
	}
}

// sameImage reports whether a and b have the same size and pixels.
func sameImage(a, b image.Image) bool {
	if a == nil || b == nil || a.Bounds() != b.Bounds() {
		return false
	}
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				return false
			}
		}
	}
	return true
}

// walkObjects visits o and everything inside it, including widgets'
// internals.
func walkObjects(o fyne.CanvasObject, f func(fyne.CanvasObject)) {
	if o == nil {
		return
	}
	f(o)
	switch x := o.(type) {
	case *fyne.Container:
		for _, c := range x.Objects {
			walkObjects(c, f)
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(x).Objects() {
			walkObjects(c, f)
		}
	}
}

// tapButtonIn taps the button labelled label under o.
func tapButtonIn(t *testing.T, o fyne.CanvasObject, label string) {
	t.Helper()
	var found *widget.Button
	walkObjects(o, func(c fyne.CanvasObject) {
		if b, ok := c.(*widget.Button); ok && b.Text == label {
			found = b
		}
	})
	if found == nil {
		t.Fatalf("no button %q", label)
	}
	test.Tap(found)
}
