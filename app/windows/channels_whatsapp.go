package windows

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"rsc.io/qr"

	"github.com/genos-project/genos/app/tray"
	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/chat"
)

// loginTimeout bounds channels.login from the window: the daemon gives the
// phone three minutes to scan a code, plus slack for its answer.
const loginTimeout = 3*time.Minute + 30*time.Second

// qrSize is the side of the QR code on screen, in Fyne units: large enough
// for a phone camera held at arm's length.
const qrSize = 320

// whatsappSection holds the WhatsApp card's widgets.
type whatsappSection struct {
	state   *widget.Label
	link    *widget.Button
	logout  *widget.Button
	qrView  *fyne.Container // instructions, code and Cancel; shown while linking
	waiting *widget.Label   // shown until the first code arrives
	qr      *canvas.Image
	code    string // the code on screen
	msg     *widget.Label
	linking bool
	attempt int                // counts links, so a cancelled one's late answer is ignored
	stop    context.CancelFunc // ends the channels.login call
	busy    bool               // a logout is in flight
}

func (w *Channels) buildWhatsApp() fyne.CanvasObject {
	s := &w.wa
	s.state = wrapped("")
	about := newCaption("Genos joins your WhatsApp as a linked device, like WhatsApp Web, and answers the messages " +
		"sent to your number.")
	s.qr = canvas.NewImageFromImage(nil)
	s.qr.FillMode = canvas.ImageFillContain
	s.qr.ScaleMode = canvas.ImageScalePixels // crisp modules: smoothing blurs them for the camera
	s.qr.SetMinSize(fyne.NewSize(qrSize, qrSize))
	s.qr.Hide()
	s.waiting = wrapped("Asking WhatsApp for a code…")
	steps := wrapped("On your phone, open WhatsApp → Settings → Linked devices → Link a device, and point the camera at this code.")
	note := newCaption("The code changes every few seconds; this window always shows the current one.")
	cancel := widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), w.cancelLink)
	s.qrView = container.NewBorder(nil, nil, s.qr, nil, container.NewVBox(steps, note, s.waiting, container.NewHBox(cancel)))
	s.qrView.Hide()
	s.msg = newMessage()
	s.link = widget.NewButtonWithIcon("Link WhatsApp…", theme.LoginIcon(), w.linkWhatsApp)
	s.link.Importance = widget.HighImportance
	s.logout = widget.NewButtonWithIcon("Log out", theme.LogoutIcon(), w.confirmLogout)
	body := container.NewVBox(s.state, about, s.qrView, s.msg, container.NewHBox(layout.NewSpacer(), s.logout, s.link))
	return widget.NewCard("WhatsApp", "", body)
}

func (w *Channels) syncWhatsAppButtons() {
	s := &w.wa
	st, ok := w.statuses[channelWhatsApp]
	linked := ok && (st.State == chat.ChannelConnected || st.State == chat.ChannelConnecting || st.State == chat.ChannelReconnecting)
	idle := !s.linking && !s.busy
	enable(s.link, idle && !linked)
	enable(s.logout, idle && ok && st.State != chat.ChannelStopped)
}

// linkWhatsApp starts channels.login, which answers once the phone has
// scanned a code; the codes arrive meanwhile as channels.qr events.
func (w *Channels) linkWhatsApp() {
	s := &w.wa
	if s.linking || s.busy {
		return
	}
	ctx, stop := context.WithTimeout(w.ctx, loginTimeout)
	s.attempt++
	attempt := s.attempt
	s.linking, s.stop, s.code = true, stop, ""
	s.qr.Hide()
	s.waiting.Show()
	s.qrView.Show()
	setMessage(s.msg, "", widget.MediumImportance)
	w.syncWhatsAppButtons()
	w.fit()
	go func() {
		defer stop()
		res, err := w.client.ChannelsLogin(ctx, api.ChannelsLoginParams{Channel: channelWhatsApp})
		w.ui.post(w.ctx, func() {
			if s.attempt == attempt && s.linking {
				w.linkDone(res, err)
			}
		})
	}()
}

func (w *Channels) linkDone(res api.ChannelsStatusResult, err error) {
	w.endLinking()
	s := &w.wa
	switch {
	case err == nil:
		msg := "WhatsApp is linked. Genos now answers messages sent to your number."
		for _, st := range res.Channels {
			if acc := tray.Account(st); st.Channel == channelWhatsApp && acc != "" {
				msg = "WhatsApp is linked to " + acc + ". Genos now answers messages sent to this number."
			}
		}
		setMessage(s.msg, msg, widget.SuccessImportance)
		w.apply(res.Channels)
	case loginErrorHas(err, "already linked"):
		// The daemon turned the channel on before it found the device
		// already linked: nothing is missing.
		setMessage(s.msg, "WhatsApp was already linked to Genos; it is connecting with that link.", widget.MediumImportance)
		w.Reload()
	default:
		w.log.Warn("link whatsapp", "err", err)
		setMessage(s.msg, loginError(err), widget.DangerImportance)
	}
	w.fit()
}

// cancelLink stops waiting for the phone. The late answer of the call is
// ignored.
func (w *Channels) cancelLink() {
	if !w.wa.linking {
		return
	}
	w.endLinking()
	setMessage(w.wa.msg, "Linking cancelled.", widget.MediumImportance)
	w.fit()
}

// endLinking closes the QR view and forgets the code shown.
func (w *Channels) endLinking() {
	s := &w.wa
	if s.stop != nil {
		s.stop()
	}
	s.linking, s.stop, s.code = false, nil, ""
	s.qr.Image = nil
	s.qr.Hide()
	s.qrView.Hide()
	w.syncWhatsAppButtons()
}

// showQR replaces the code on screen with code, as WhatsApp rotates them.
// Codes that arrive while this window is not linking (another client
// started it) are not shown.
func (w *Channels) showQR(code string) {
	s := &w.wa
	if !s.linking || code == "" || code == s.code {
		return
	}
	img, err := qrImage(code)
	if err != nil {
		w.log.Warn("draw whatsapp qr code", "err", err) // the code itself stays out of the log
		setMessage(s.msg, "Genos could not draw the code WhatsApp sent. Cancel and try again.", widget.DangerImportance)
		w.fit()
		return
	}
	s.code = code
	s.qr.Image = img
	s.qr.Show()
	s.qr.Refresh()
	s.waiting.Hide()
	w.fit()
}

// confirmLogout asks before unlinking: linking again needs the phone.
func (w *Channels) confirmLogout() {
	if w.wa.linking || w.wa.busy {
		return
	}
	d := dialog.NewConfirm("Log out of WhatsApp?",
		"Genos stops answering on WhatsApp and this computer is removed from your linked devices. "+
			"To use WhatsApp with Genos again you scan a new code.",
		func(ok bool) {
			if ok {
				w.logoutWhatsApp()
			}
		}, w.win)
	d.SetConfirmText("Log out")
	d.SetDismissText("Keep linked")
	d.Show()
}

func (w *Channels) logoutWhatsApp() {
	s := &w.wa
	if s.linking || s.busy {
		return
	}
	s.busy = true
	w.syncWhatsAppButtons()
	go func() {
		ctx, cancel := context.WithTimeout(w.ctx, rpcTimeout)
		defer cancel()
		res, err := w.client.ChannelsLogout(ctx, api.ChannelParams{Channel: channelWhatsApp})
		w.ui.post(w.ctx, func() {
			s.busy = false
			if err != nil {
				w.log.Warn("log out of whatsapp", "err", err)
				setMessage(s.msg, "WhatsApp was not logged out. "+channelError(err), widget.DangerImportance)
				w.syncWhatsAppButtons()
				w.fit()
				return
			}
			setMessage(s.msg, "Logged out. Genos no longer answers on WhatsApp.", widget.MediumImportance)
			w.apply(res.Channels)
		})
	}()
}

// loginError says why linking failed. The daemon wraps the adapter's
// errors into an internal error whose text names the cause; the known
// causes are said in words, the rest stays in the log.
func loginError(err error) string {
	const prefix = "WhatsApp was not linked: "
	switch {
	case errors.Is(err, context.DeadlineExceeded), loginErrorHas(err, "timed out"), loginErrorHas(err, "deadline exceeded"):
		return prefix + "the code was not scanned in time. Press “Link WhatsApp…” to try again."
	case loginErrorHas(err, "client version"):
		return prefix + "WhatsApp refused this version of Genos. Update Genos and try again."
	case loginErrorHas(err, "closed the connection"):
		return prefix + "WhatsApp closed the connection before a code was scanned. Please try again."
	}
	var shape *api.ErrorShape
	if errors.As(err, &shape) && shape.Code == api.CodeInternal {
		return prefix + "something went wrong (the Genos log has the details). Please try again."
	}
	return "WhatsApp was not linked. " + userMessage(err)
}

// loginErrorHas reports whether the daemon's error message contains s.
func loginErrorHas(err error, s string) bool {
	var shape *api.ErrorShape
	return errors.As(err, &shape) && strings.Contains(strings.ToLower(shape.Message), s)
}

// qrImage draws code as a QR code with its white quiet zone, at a whole
// number of pixels per module and at least qrSize pixels wide, so showing
// it at qrSize never drops a row of modules.
func qrImage(code string) (image.Image, error) {
	c, err := qr.Encode(code, qr.L)
	if err != nil {
		return nil, fmt.Errorf("encode qr code: %w", err)
	}
	side := c.Size + 8 // the PNG has a 4-module white border on each side
	c.Scale = max(1, (qrSize+side-1)/side)
	img, err := png.Decode(bytes.NewReader(c.PNG()))
	if err != nil {
		return nil, fmt.Errorf("decode qr png: %w", err)
	}
	return img, nil
}
