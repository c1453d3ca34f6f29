package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"

	wastore "go.mau.fi/whatsmeow/store"

	"github.com/genos-project/genos/channels/telegram"
	"github.com/genos-project/genos/channels/whatsapp"
	"github.com/genos-project/genos/core/daemon"
	"github.com/genos-project/genos/core/gateway"
)

// channelFactories builds the messaging adapters this binary ships: the
// composition root is the one place that knows both core and channels.
func channelFactories() map[string]daemon.ChannelFactory {
	return map[string]daemon.ChannelFactory{
		telegram.Name: func(env daemon.ChannelEnv) (gateway.Channel, error) {
			// GENOS_TELEGRAM_API_URL points at a self-hosted Bot API server
			// (or a test one); the default is api.telegram.org.
			a, err := telegram.New(telegram.Options{Token: env.Token, APIURL: os.Getenv("GENOS_TELEGRAM_API_URL"),
				SaveFile: env.SaveFile, Logger: env.Logger})
			if err != nil {
				return nil, err
			}
			return a, nil
		},
		whatsapp.Name: func(env daemon.ChannelEnv) (gateway.Channel, error) {
			if env.Sealer == nil {
				// Its device keys may only ever be stored sealed.
				return nil, errors.New("WhatsApp needs the vault: create it first (genos vault init, or onboarding)")
			}
			nameDevice()
			a, err := whatsapp.New(context.Background(), whatsapp.Options{
				StorePath:    filepath.Join(env.StateDir, daemon.WhatsAppStoreFile),
				Sealer:       env.Sealer,
				Logger:       env.Logger,
				ReadReceipts: env.ReadReceipts,
				SaveFile:     env.SaveFile,
			})
			if err != nil {
				return nil, err
			}
			return a, nil
		},
	}
}

var nameOnce sync.Once

// nameDevice makes the phone list this device as Genos under Linked
// devices (whatsmeow keeps the name in a package variable).
func nameDevice() {
	nameOnce.Do(func() { wastore.SetOSInfo("Genos", [3]uint32{0, 1, 0}) })
}
