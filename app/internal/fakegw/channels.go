package fakegw

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/chat"
)

// Channel names the fake knows, as the daemon's config does.
const (
	Telegram = "telegram"
	WhatsApp = "whatsapp"
)

// Accounts the fake reports once a channel connects.
const (
	BotAccount      = "@genos_test_bot"
	WhatsAppAccount = "34600111222"
)

// DefaultLoginPause is the pause between the steps of an unscripted
// WhatsApp login.
const DefaultLoginPause = 100 * time.Millisecond

// Login scripts the fake WhatsApp login (channels.login). The first code is
// emitted as a channels.qr event at once; each later code, and then the
// answer, follows after a step.
type Login struct {
	// Codes are the QR codes emitted in order.
	Codes []string
	// Step, when set, gates the script: each later code and the answer
	// wait for a receive from it, so a test can look at each code. Without
	// it a step is a pause of Pause.
	Step <-chan struct{}
	// Pause between steps without Step; DefaultLoginPause when zero.
	Pause time.Duration
	// Err, when set, is the answer after the codes instead of success.
	Err *api.ErrorShape
	// Account is the linked number on success; WhatsAppAccount when empty.
	Account string
}

// DefaultLogin is the login the fake runs unless SetLogin scripts another:
// two QR codes, then success.
func DefaultLogin() Login {
	return Login{Codes: []string{
		"2@fakeQRcodeOne,Xk3YVt0ZfakePublicKeyOne=,fakeIdentityKeyOne=,fakeAdvSecretOne=",
		"2@fakeQRcodeTwo,Xk3YVt0ZfakePublicKeyTwo=,fakeIdentityKeyTwo=,fakeAdvSecretTwo=",
	}}
}

// SetLogin scripts the next WhatsApp logins.
func (s *Server) SetLogin(l Login) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.login = &l
}

// SetChannels sets the channel states channels.status answers, without an
// event: use it before clients connect.
func (s *Server) SetChannels(cs []chat.ChannelStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels = slices.Clone(cs)
}

// ChangeChannels sets the channel states and emits channels.changed, as the
// daemon does when an adapter's health changes.
func (s *Server) ChangeChannels(cs []chat.ChannelStatus) {
	s.SetChannels(cs)
	s.Emit(api.EventChannelsChanged, api.ChannelsStatusResult{Channels: s.Channels()})
}

// Channels returns the channel states channels.status would answer.
func (s *Server) Channels() []chat.ChannelStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]chat.ChannelStatus{}, s.channels...)
}

// Token returns the bot token channels.set stored for channel.
func (s *Server) Token(channel string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[channel]
}

// SetPairings sets the pending pairing requests, without an event.
func (s *Server) SetPairings(rs []api.PairingRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pairings = slices.Clone(rs)
}

// RequestPairing adds a pending pairing request and emits
// pairing.requested, as the daemon does when a stranger writes.
func (s *Server) RequestPairing(r api.PairingRequest) {
	s.mu.Lock()
	s.pairings = append(s.pairings, r)
	s.mu.Unlock()
	s.Emit(api.EventPairingRequested, r)
}

// ExpirePairing drops a pending request and emits pairing.resolved with
// the decision "expired", as the daemon does when its hour is up.
func (s *Server) ExpirePairing(channel, code string) {
	if r, ok := s.takePairing(channel, code); ok {
		s.Emit(api.EventPairingResolved, api.PairingResolvedEvent{Channel: r.Channel, Code: r.Code, Peer: r.Peer, Decision: "expired"})
	}
}

func (s *Server) channelMethod(method string) Handler {
	switch method {
	case api.MethodChannelsStatus:
		return func(json.RawMessage) (any, *api.ErrorShape) { return s.statusResult(), nil }
	case api.MethodChannelsSet:
		return s.channelsSet
	case api.MethodChannelsLogin:
		return s.channelsLogin
	case api.MethodChannelsLogout:
		return s.channelsLogout
	case api.MethodPairingList:
		return s.pairingList
	case api.MethodPairingApprove:
		return s.pairingDecide("approved")
	case api.MethodPairingDeny:
		return s.pairingDecide("denied")
	}
	return nil
}

func (s *Server) statusResult() api.ChannelsStatusResult {
	return api.ChannelsStatusResult{Channels: s.Channels()}
}

func knownChannel(name string) *api.ErrorShape {
	switch name {
	case Telegram, WhatsApp:
		return nil
	case "":
		return api.Errorf(api.CodeInvalidRequest, "channel is required")
	}
	return api.Errorf(api.CodeInvalidRequest, "unknown channel %q (this build has: telegram, whatsapp)", name)
}

func (s *Server) channelsSet(raw json.RawMessage) (any, *api.ErrorShape) {
	var p api.ChannelsSetParams
	if err := decode(raw, &p); err != nil {
		return nil, err
	}
	if err := knownChannel(p.Channel); err != nil {
		return nil, err
	}
	token := strings.TrimSpace(p.Token)
	s.mu.Lock()
	if p.Channel == Telegram && p.Enabled && token == "" && s.tokens[Telegram] == "" {
		s.mu.Unlock()
		return nil, api.Errorf(api.CodeInvalidRequest, "telegram needs a bot token: create a bot with @BotFather and paste its token")
	}
	if token != "" {
		s.tokens[p.Channel] = token
	}
	st := chat.ChannelStatus{Channel: p.Channel, State: chat.ChannelStopped, Reason: "turned off", Since: time.Now()}
	switch {
	case p.Enabled && p.Channel == Telegram:
		st.State, st.Reason, st.Account = chat.ChannelConnected, "", BotAccount
	case p.Enabled:
		st.State, st.Reason = chat.ChannelLoginRequired, "scan the QR code to link WhatsApp"
	}
	s.putChannel(st)
	return s.changedLocked()
}

func (s *Server) channelsLogin(raw json.RawMessage) (any, *api.ErrorShape) {
	var p api.ChannelsLoginParams
	if err := decode(raw, &p); err != nil {
		return nil, err
	}
	if err := knownChannel(p.Channel); err != nil {
		return nil, err
	}
	if p.Channel != WhatsApp {
		return nil, api.Errorf(api.CodeInvalidRequest, "%s does not pair by QR code", p.Channel)
	}
	s.mu.Lock()
	l := DefaultLogin()
	if s.login != nil {
		l = *s.login
	}
	s.putChannel(chat.ChannelStatus{Channel: WhatsApp, State: chat.ChannelLoginRequired, Since: time.Now()})
	s.mu.Unlock()
	step := func() bool {
		pause := l.Pause
		if pause <= 0 {
			pause = DefaultLoginPause
		}
		var next <-chan time.Time
		if l.Step == nil {
			next = time.After(pause)
		}
		select {
		case <-s.ctx.Done():
			return false
		case <-l.Step:
		case <-next:
		}
		return true
	}
	for i, code := range l.Codes {
		if i > 0 && !step() {
			return nil, api.Errorf(api.CodeUnavailable, "the gateway is shutting down")
		}
		s.Emit(api.EventChannelQR, api.ChannelQREvent{Channel: p.Channel, Code: code})
	}
	if !step() {
		return nil, api.Errorf(api.CodeUnavailable, "the gateway is shutting down")
	}
	if l.Err != nil {
		return nil, l.Err
	}
	acc := l.Account
	if acc == "" {
		acc = WhatsAppAccount
	}
	s.mu.Lock()
	s.putChannel(chat.ChannelStatus{Channel: WhatsApp, State: chat.ChannelConnected, Account: acc, Since: time.Now()})
	return s.changedLocked()
}

func (s *Server) channelsLogout(raw json.RawMessage) (any, *api.ErrorShape) {
	var p api.ChannelParams
	if err := decode(raw, &p); err != nil {
		return nil, err
	}
	if err := knownChannel(p.Channel); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.putChannel(chat.ChannelStatus{Channel: p.Channel, State: chat.ChannelStopped, Reason: "turned off", Since: time.Now()})
	return s.changedLocked()
}

// putChannel replaces or adds st; s.mu must be held.
func (s *Server) putChannel(st chat.ChannelStatus) {
	for i, c := range s.channels {
		if c.Channel == st.Channel {
			s.channels[i] = st
			return
		}
	}
	s.channels = append(s.channels, st)
}

// changedLocked unlocks s.mu (held by the caller), answers the channel
// states and broadcasts channels.changed after the response, as the daemon
// does.
func (s *Server) changedLocked() (any, *api.ErrorShape) {
	res := api.ChannelsStatusResult{Channels: append([]chat.ChannelStatus{}, s.channels...)}
	s.mu.Unlock()
	go s.Emit(api.EventChannelsChanged, res)
	return res, nil
}

func (s *Server) pairingList(raw json.RawMessage) (any, *api.ErrorShape) {
	var p api.ChannelParams
	if err := decode(raw, &p); err != nil {
		return nil, err
	}
	if p.Channel != "" {
		if err := knownChannel(p.Channel); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []api.PairingRequest{}
	for _, r := range s.pairings {
		if p.Channel == "" || r.Channel == p.Channel {
			out = append(out, r)
		}
	}
	return api.PairingListResult{Requests: out}, nil
}

func (s *Server) pairingDecide(decision string) Handler {
	return func(raw json.RawMessage) (any, *api.ErrorShape) {
		var p api.PairingDecisionParams
		if err := decode(raw, &p); err != nil {
			return nil, err
		}
		if err := knownChannel(p.Channel); err != nil {
			return nil, err
		}
		if p.Code == "" {
			return nil, api.Errorf(api.CodeInvalidRequest, "code is required")
		}
		r, ok := s.takePairing(p.Channel, p.Code)
		if !ok {
			return nil, api.Errorf(api.CodeNotFound, "no pending pairing request %s on %s (it may have expired)", p.Code, p.Channel)
		}
		ev := api.PairingResolvedEvent{Channel: r.Channel, Code: r.Code, Peer: r.Peer, Decision: decision}
		go s.Emit(api.EventPairingResolved, ev) // after the response, as the daemon does
		return ev, nil
	}
}

func (s *Server) takePairing(channel, code string) (api.PairingRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range s.pairings {
		if r.Channel == channel && r.Code == code {
			s.pairings = slices.Delete(s.pairings, i, i+1)
			return r, true
		}
	}
	return api.PairingRequest{}, false
}
