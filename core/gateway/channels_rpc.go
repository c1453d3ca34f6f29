package gateway

import (
	"context"
	"encoding/json"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/chat"
)

// Channels is what the gateway needs of the daemon to serve channels.* and
// channel.pairing.*. Errors that are *api.ErrorShape pass through as they
// are.
type Channels interface {
	Status() []chat.ChannelStatus
	Set(ctx context.Context, p api.ChannelsSetParams) error
	Login(ctx context.Context, channel string, qr func(code string)) error
	Logout(ctx context.Context, channel string) error
	Pairings(ctx context.Context, channel string) ([]api.PairingRequest, error)
	DecidePairing(ctx context.Context, channel, code string, approve bool) (api.PairingResolvedEvent, error)
}

// NotifyChannels broadcasts channels.changed.
func (s *Server) NotifyChannels(st []chat.ChannelStatus) {
	s.broadcast(api.EventChannelsChanged, api.ChannelsStatusResult{Channels: nonNilStatuses(st)})
}

// NotifyPairingRequested broadcasts pairing.requested.
func (s *Server) NotifyPairingRequested(r api.PairingRequest) {
	s.broadcast(api.EventPairingRequested, r)
}

// NotifyPairingResolved broadcasts pairing.resolved.
func (s *Server) NotifyPairingResolved(e api.PairingResolvedEvent) {
	s.broadcast(api.EventPairingResolved, e)
}

func nonNilStatuses(st []chat.ChannelStatus) []chat.ChannelStatus {
	if st == nil {
		return []chat.ChannelStatus{}
	}
	return st
}

func (s *Server) channels(ctx context.Context) (Channels, error) {
	if _, err := s.engine(ctx); err != nil {
		return nil, err
	}
	if s.opts.Channels == nil {
		return nil, api.Errorf(api.CodeUnavailable, "this gateway runs no messaging channels")
	}
	return s.opts.Channels, nil
}

func (s *Server) channelsStatus(ctx context.Context, _ *conn, _ json.RawMessage) (any, error) {
	c, err := s.channels(ctx)
	if err != nil {
		return nil, err
	}
	return api.ChannelsStatusResult{Channels: nonNilStatuses(c.Status())}, nil
}

// channelAction decodes params naming a channel and, with the channels
// available, runs act and answers with every channel's status.
func channelAction[P any](s *Server, ctx context.Context, raw json.RawMessage, name func(*P) string,
	act func(Channels, *P) error) (any, error) {
	c, err := s.channels(ctx)
	if err != nil {
		return nil, err
	}
	var p P
	if err := api.DecodeParams(raw, &p); err != nil {
		return nil, err
	}
	if name(&p) == "" {
		return nil, api.Errorf(api.CodeInvalidRequest, "channel is required")
	}
	if err := act(c, &p); err != nil {
		return nil, err
	}
	return api.ChannelsStatusResult{Channels: nonNilStatuses(c.Status())}, nil
}

func (s *Server) channelsSet(ctx context.Context, _ *conn, raw json.RawMessage) (any, error) {
	return channelAction(s, ctx, raw, func(p *api.ChannelsSetParams) string { return p.Channel },
		func(c Channels, p *api.ChannelsSetParams) error {
			if len(p.Token) > 4096 {
				return api.Errorf(api.CodeInvalidRequest, "token is too long")
			}
			return c.Set(ctx, *p)
		})
}

func (s *Server) channelsLogin(ctx context.Context, _ *conn, raw json.RawMessage) (any, error) {
	return channelAction(s, ctx, raw, func(p *api.ChannelsLoginParams) string { return p.Channel },
		func(c Channels, p *api.ChannelsLoginParams) error {
			return c.Login(ctx, p.Channel, func(code string) {
				// Every owner client may show the code; only the owner's
				// clients are connected at all.
				s.broadcast(api.EventChannelQR, api.ChannelQREvent{Channel: p.Channel, Code: code})
			})
		})
}

func (s *Server) channelsLogout(ctx context.Context, _ *conn, raw json.RawMessage) (any, error) {
	return channelAction(s, ctx, raw, func(p *api.ChannelParams) string { return p.Channel },
		func(c Channels, p *api.ChannelParams) error { return c.Logout(ctx, p.Channel) })
}

func (s *Server) pairingList(ctx context.Context, _ *conn, raw json.RawMessage) (any, error) {
	c, err := s.channels(ctx)
	if err != nil {
		return nil, err
	}
	var p api.ChannelParams
	if err := api.DecodeParams(raw, &p); err != nil {
		return nil, err
	}
	reqs, err := c.Pairings(ctx, p.Channel)
	if err != nil {
		return nil, err
	}
	if reqs == nil {
		reqs = []api.PairingRequest{}
	}
	return api.PairingListResult{Requests: reqs}, nil
}

func (s *Server) pairingDecide(approve bool) handler {
	return func(ctx context.Context, _ *conn, raw json.RawMessage) (any, error) {
		c, err := s.channels(ctx)
		if err != nil {
			return nil, err
		}
		var p api.PairingDecisionParams
		if err := api.DecodeParams(raw, &p); err != nil {
			return nil, err
		}
		if p.Channel == "" || p.Code == "" || len(p.Code) > 16 {
			return nil, api.Errorf(api.CodeInvalidRequest, "channel and code are required")
		}
		return c.DecidePairing(ctx, p.Channel, p.Code, approve)
	}
}
