package windows

import (
	"context"
	"time"

	"fyne.io/fyne/v2"

	"github.com/genos-project/genos/app/internal/fakegw"
	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/chat"
)

// channelsScenario shows Telegram connected and WhatsApp in the middle of
// linking, with a QR code on screen that the phone has not scanned yet.
func channelsScenario(ctx context.Context, gw *fakegw.Server, w *Channels) error {
	now := time.Now()
	gw.ChangeChannels([]chat.ChannelStatus{
		{Channel: "telegram", State: chat.ChannelConnected, Account: "@genos_home_bot", Since: now.Add(-time.Hour),
			LastInbound: now.Add(-4 * time.Minute)},
		{Channel: "whatsapp", State: chat.ChannelLoginRequired, Since: now},
	})
	if err := waitUntil(ctx, "the channel states", func() bool { return w.tg.state.Text != "Not set up yet." }); err != nil {
		return err
	}
	// Never stepped: the code stays on screen until the child quits.
	gw.SetLogin(fakegw.Login{Codes: fakegw.DefaultLogin().Codes[:1], Step: make(chan struct{})})
	fyne.DoAndWait(w.linkWhatsApp)
	if _, err := gw.AwaitRequest(ctx, api.MethodChannelsLogin, 1); err != nil {
		return err
	}
	return waitUntil(ctx, "the QR code", func() bool { _, ok := w.qrShown(); return ok })
}

func screenshotPairings() []api.PairingRequest {
	now := time.Now()
	return []api.PairingRequest{
		{Channel: "telegram", Code: "K7M2QX9P", Peer: "5128834410", PeerName: "Ana Ruiz",
			CreatedAt: now.Add(-17 * time.Minute), ExpiresAt: now.Add(43 * time.Minute)},
		{Channel: "whatsapp", Code: "HT4W8ZNB", Peer: "34600999888",
			CreatedAt: now.Add(-2 * time.Minute), ExpiresAt: now.Add(58 * time.Minute)},
	}
}
