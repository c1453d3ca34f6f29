package main

import (
	"github.com/genos-project/genos/channels/telegram"
	"github.com/genos-project/genos/core/daemon"
	"github.com/genos-project/genos/core/gateway"
)

// channelFactories builds the messaging adapters this binary ships: the
// composition root is the one place that knows both core and channels.
func channelFactories() map[string]daemon.ChannelFactory {
	return map[string]daemon.ChannelFactory{
		telegram.Name: func(env daemon.ChannelEnv) (gateway.Channel, error) {
			a, err := telegram.New(telegram.Options{Token: env.Token, SaveFile: env.SaveFile, Logger: env.Logger})
			if err != nil {
				return nil, err
			}
			return a, nil
		},
	}
}
