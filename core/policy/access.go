package policy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/store"
)

// DM policies: who may talk to the assistant in direct messages.
const (
	// DMPairing (the default) answers an unknown sender once with a pairing
	// code and delivers nothing until the owner approves that code.
	DMPairing = "pairing"
	// DMAllowlist delivers only senders in AllowFrom or the stored
	// allowlist and drops everyone else without a reply.
	DMAllowlist = "allowlist"
	// DMOpen delivers every sender. It requires "*" in AllowFrom, so
	// opening a channel to the world is always written down explicitly.
	DMOpen = "open"
	// DMDisabled drops every direct message.
	DMDisabled = "disabled"
)

// Group policies: which group chats the assistant takes part in.
const (
	// GroupOpen takes part in every group it is added to.
	GroupOpen = "open"
	// GroupAllowlist (the default) takes part only in groups listed in
	// GroupAllowFrom.
	GroupAllowlist = "allowlist"
	// GroupDisabled drops every group message.
	GroupDisabled = "disabled"
)

// AllowAll in AllowFrom or GroupAllowFrom matches every sender or group.
const AllowAll = "*"

// Limits on ChannelRules and on inbound identifiers. Every pending request
// of a channel is unsealed on each check, so the pending limit stays small.
const (
	// DefaultMaxPendingPairings is how many pairing requests a channel keeps
	// when ChannelRules.MaxPendingPairings is 0.
	DefaultMaxPendingPairings = 3
	// MaxPendingPairingsLimit is the largest MaxPendingPairings accepted.
	MaxPendingPairingsLimit = 50
	maxIDLen                = 256 // peer and group ids, AllowFrom entries
	maxChannelLen           = 64
	maxNameRunes            = 64 // display names kept for the owner
)

// ChannelRules is the access policy of one messaging channel. The zero value
// is the safe default: pairing for DMs, no groups, mention required.
type ChannelRules struct {
	// DM is DMPairing (default when empty), DMAllowlist, DMOpen or
	// DMDisabled.
	DM string `json:"dm,omitempty"`
	// AllowFrom lists peer ids always allowed in DMs, on top of the peers
	// the owner approved (the stored allowlist). AllowAll allows everyone;
	// DMOpen requires it.
	AllowFrom []string `json:"allowFrom,omitempty"`
	// Group is GroupOpen, GroupAllowlist (default when empty) or
	// GroupDisabled.
	Group string `json:"group,omitempty"`
	// GroupAllowFrom lists the group ids GroupAllowlist admits.
	GroupAllowFrom []string `json:"groupAllowFrom,omitempty"`
	// RequireMention, in groups, delivers only messages that mention the
	// assistant or reply to it (chat.Inbound.Mentioned). A pointer so that
	// unset means true: a config that says nothing keeps the assistant
	// quiet in groups, and only an explicit false makes it read everything.
	RequireMention *bool `json:"requireMention,omitempty"`
	// MaxPendingPairings bounds the pending pairing requests of the channel
	// (0 selects DefaultMaxPendingPairings). A new stranger beyond it evicts
	// the oldest request, so nobody new is ever silently ignored.
	MaxPendingPairings int `json:"maxPendingPairings,omitempty"`
}

// MentionRequired reports whether group messages must mention the
// assistant to be delivered (true unless RequireMention is set to false).
func (r ChannelRules) MentionRequired() bool {
	return r.RequireMention == nil || *r.RequireMention
}

// withDefaults fills the empty fields with their defaults.
func (r ChannelRules) withDefaults() ChannelRules {
	if r.DM == "" {
		r.DM = DMPairing
	}
	if r.Group == "" {
		r.Group = GroupAllowlist
	}
	if r.MaxPendingPairings == 0 {
		r.MaxPendingPairings = DefaultMaxPendingPairings
	}
	return r
}

// Validate reports every problem in r: unknown policies, DMOpen without
// AllowAll in AllowFrom, empty or oversized ids and an out-of-range pending
// limit.
func (r ChannelRules) Validate() error {
	var errs []error
	switch r.DM {
	case "", DMPairing, DMAllowlist, DMOpen, DMDisabled:
	default:
		errs = append(errs, fmt.Errorf("dm: unknown policy %q (want pairing, allowlist, open or disabled)", r.DM))
	}
	if r.DM == DMOpen && !slices.Contains(r.AllowFrom, AllowAll) {
		errs = append(errs, fmt.Errorf(`dm: "open" requires %q in allowFrom`, AllowAll))
	}
	switch r.Group {
	case "", GroupOpen, GroupAllowlist, GroupDisabled:
	default:
		errs = append(errs, fmt.Errorf("group: unknown policy %q (want open, allowlist or disabled)", r.Group))
	}
	errs = append(errs, checkIDs("allowFrom", r.AllowFrom)...)
	errs = append(errs, checkIDs("groupAllowFrom", r.GroupAllowFrom)...)
	if r.MaxPendingPairings < 0 || r.MaxPendingPairings > MaxPendingPairingsLimit {
		errs = append(errs, fmt.Errorf("maxPendingPairings: %d out of range 0..%d", r.MaxPendingPairings, MaxPendingPairingsLimit))
	}
	return errors.Join(errs...)
}

func checkIDs(field string, ids []string) []error {
	var errs []error
	for i, id := range ids {
		switch {
		case strings.TrimSpace(id) == "":
			errs = append(errs, fmt.Errorf("%s[%d]: empty id", field, i))
		case id != strings.TrimSpace(id):
			errs = append(errs, fmt.Errorf("%s[%d]: id %q has surrounding spaces", field, i, id))
		case len(id) > maxIDLen:
			errs = append(errs, fmt.Errorf("%s[%d]: id longer than %d bytes", field, i, maxIDLen))
		}
	}
	return errs
}

// listed reports whether id is in ids or ids holds AllowAll.
func listed(ids []string, id string) bool {
	return slices.Contains(ids, id) || slices.Contains(ids, AllowAll)
}

// AccessAction is what the gateway does with an inbound message.
type AccessAction string

// The actions Check can decide.
const (
	// ActionDeliver hands the message on to its session.
	ActionDeliver AccessAction = "deliver"
	// ActionDrop discards the message without any reply.
	ActionDrop AccessAction = "drop"
	// ActionReplyPairing discards the message and sends the sender
	// AccessDecision.Reply (which carries the pairing code) and nothing
	// else.
	ActionReplyPairing AccessAction = "reply-pairing"
)

// Reasons Check gives, for logs and audit. They never contain message text
// or identifiers.
const (
	ReasonInvalid           = "invalid-inbound"
	ReasonDMDisabled        = "dm-disabled"
	ReasonDMOpen            = "dm-open"
	ReasonAllowFrom         = "dm-allow-from"     // listed in the config's AllowFrom
	ReasonApproved          = "dm-approved"       // in the stored allowlist
	ReasonNotAllowed        = "dm-not-allowed"    // allowlist policy, unknown sender
	ReasonPairingRequested  = "pairing-requested" // new stranger: code sent
	ReasonPairingPending    = "pairing-pending"   // stranger already has a code: silence
	ReasonGroupDisabled     = "group-disabled"
	ReasonGroupNotAllowed   = "group-not-allowed"
	ReasonGroupNotMentioned = "group-not-mentioned"
	ReasonGroupAllowed      = "group-allowed"
)

// AccessDecision is the outcome of Check.
type AccessDecision struct {
	Action AccessAction
	// Reason says why, for logs (one of the Reason constants).
	Reason string
	// Code and Reply are set for ActionReplyPairing: the new pairing code
	// and the exact text to send the sender.
	Code  string
	Reply string
}

// ValueCodec seals one database value. It has the shape of
// session.ValueCodec, and the vault's inline codec (vault.InlineCodec)
// implements it. Before a vault exists the daemon may pass a plaintext codec;
// the rows are then sealed at vault creation with
// store.DB.RewriteChannelAccess.
type ValueCodec interface {
	EncodeValue(plain []byte) ([]byte, error)
	DecodeValue(stored []byte) ([]byte, error)
}

// AccessOptions configures an Access.
type AccessOptions struct {
	// Rules holds each channel's policy by channel name; channels not
	// listed get the zero ChannelRules (pairing, no groups).
	Rules map[string]ChannelRules
	// OnEvent hears of every pairing request made and resolved and every
	// revocation, for the gateway to broadcast pairing.requested and
	// pairing.resolved and to write audit records. Events arrive in the
	// order the state changed, one at a time, never with Access's lock
	// held (OnEvent may call back into Access), possibly on the goroutine
	// of a later call. It should be quick. Nil ignores events.
	OnEvent func(PairingEvent)
	// Now is the clock (time.Now when nil); tests inject a fake one.
	Now func() time.Time
}

// Access decides whether inbound channel messages reach the assistant and
// manages pairing and the per-channel allowlists. It is safe for concurrent
// use.
//
// Peer ids, display names and codes are sealed at rest through the codec.
// Since sealed values cannot be searched, every lookup loads the channel's
// rows and unseals them; there are tens at most. Nothing is cached in
// memory, so locking the vault (the codec then fails with vault.ErrLocked)
// leaves no unsealed copy behind, and Check fails closed with an error until
// it is unlocked.
type Access struct {
	db     *store.DB
	codec  ValueCodec
	now    func() time.Time
	events *eventQueue[PairingEvent]

	rulesMu sync.RWMutex
	rules   map[string]ChannelRules

	// mu serialises every read-modify-write of the tables: the pending
	// limit, "one code per stranger" and "no duplicate allow rows" are
	// checked in memory, after unsealing, so they hold only if no other
	// writer interleaves.
	mu sync.Mutex
}

// NewAccess returns an Access over db's pairing and allowlist tables,
// sealing with codec. It fails if any channel's rules are invalid.
func NewAccess(db *store.DB, codec ValueCodec, opts AccessOptions) (*Access, error) {
	if db == nil || codec == nil {
		return nil, errors.New("new access: nil database or codec")
	}
	a := &Access{db: db, codec: codec, now: opts.Now, events: newEventQueue(opts.OnEvent)}
	if a.now == nil {
		a.now = time.Now
	}
	if err := a.SetRules(opts.Rules); err != nil {
		return nil, err
	}
	return a, nil
}

// SetRules replaces every channel's rules (a config change). It validates
// them all first and changes nothing if any is invalid.
func (a *Access) SetRules(rules map[string]ChannelRules) error {
	var errs []error
	for _, ch := range slices.Sorted(maps.Keys(rules)) {
		if ch == "" {
			errs = append(errs, errors.New("channel rules: empty channel name"))
			continue
		}
		if err := rules[ch].Validate(); err != nil {
			errs = append(errs, fmt.Errorf("channel rules %s: %w", ch, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	cp := make(map[string]ChannelRules, len(rules))
	for ch, r := range rules {
		r.AllowFrom = slices.Clone(r.AllowFrom)
		r.GroupAllowFrom = slices.Clone(r.GroupAllowFrom)
		if r.RequireMention != nil {
			v := *r.RequireMention
			r.RequireMention = &v
		}
		cp[ch] = r
	}
	a.rulesMu.Lock()
	a.rules = cp
	a.rulesMu.Unlock()
	return nil
}

// Rules returns the rules in force for channel, defaults filled in.
func (a *Access) Rules(channel string) ChannelRules {
	a.rulesMu.RLock()
	r := a.rules[channel]
	a.rulesMu.RUnlock()
	return r.withDefaults()
}

// Check decides what happens to in. It never returns message text in the
// decision. On any error (invalid input, locked vault, database failure) the
// action is ActionDrop: the gateway must not deliver what it could not check.
//
// Direct messages: DMDisabled drops; DMOpen delivers; a sender in AllowFrom
// or the stored allowlist is delivered; otherwise DMAllowlist drops silently
// and DMPairing replies once with a new code. A sender who already has a
// pending code gets nothing at all, neither a new code nor the old one again:
// one reply per stranger per hour keeps the assistant from being used to
// spam, and the code stays valid for the hour. Once it expires, the next
// message starts a new request.
//
// Group messages (in.Group set): the group policy first (GroupDisabled drops,
// GroupAllowlist needs the group in GroupAllowFrom), then mention gating.
func (a *Access) Check(ctx context.Context, in chat.Inbound) (AccessDecision, error) {
	if err := validateInbound(in); err != nil {
		return drop(ReasonInvalid), fmt.Errorf("access check: %w", err)
	}
	r := a.Rules(in.Channel)
	if in.Group != "" {
		return checkGroup(r, in), nil
	}
	switch r.DM {
	case DMDisabled:
		return drop(ReasonDMDisabled), nil
	case DMOpen:
		return deliver(ReasonDMOpen), nil
	}
	if listed(r.AllowFrom, in.Peer) {
		return deliver(ReasonAllowFrom), nil
	}

	a.mu.Lock()
	d, evs, err := a.checkStoredLocked(ctx, r, in)
	a.events.push(evs...)
	a.mu.Unlock()
	a.events.flush()
	if err != nil {
		return drop(d.Reason), fmt.Errorf("access check %s: %w", in.Channel, err)
	}
	return d, nil
}

func (a *Access) checkStoredLocked(ctx context.Context, r ChannelRules, in chat.Inbound) (AccessDecision, []PairingEvent, error) {
	allowed, err := a.loadAllowed(ctx, in.Channel)
	if err != nil {
		return drop(ReasonNotAllowed), nil, err
	}
	if slices.ContainsFunc(allowed, func(p allowedRow) bool { return p.Peer == in.Peer }) {
		return deliver(ReasonApproved), nil, nil
	}
	if r.DM == DMAllowlist {
		return drop(ReasonNotAllowed), nil, nil
	}
	return a.requestPairingLocked(ctx, r, in)
}

func checkGroup(r ChannelRules, in chat.Inbound) AccessDecision {
	switch r.Group {
	case GroupDisabled:
		return drop(ReasonGroupDisabled)
	case GroupAllowlist:
		if !listed(r.GroupAllowFrom, in.Group) {
			return drop(ReasonGroupNotAllowed)
		}
	}
	if r.MentionRequired() && !in.Mentioned {
		return drop(ReasonGroupNotMentioned)
	}
	return deliver(ReasonGroupAllowed)
}

func drop(reason string) AccessDecision {
	return AccessDecision{Action: ActionDrop, Reason: reason}
}

func deliver(reason string) AccessDecision {
	return AccessDecision{Action: ActionDeliver, Reason: reason}
}

// validateInbound checks the identifiers an adapter hands over; they come
// from the platform, that is from outside.
func validateInbound(in chat.Inbound) error {
	var errs []error
	if err := checkChannel(in.Channel); err != nil {
		errs = append(errs, err)
	}
	if err := checkPeer(in.Peer); err != nil {
		errs = append(errs, err)
	}
	if len(in.Group) > maxIDLen || strings.ContainsRune(in.Group, 0) {
		errs = append(errs, fmt.Errorf("group id longer than %d bytes or with NUL", maxIDLen))
	}
	return errors.Join(errs...)
}

func checkChannel(ch string) error {
	switch {
	case ch == "":
		return errors.New("empty channel")
	case len(ch) > maxChannelLen:
		return fmt.Errorf("channel name longer than %d bytes", maxChannelLen)
	}
	return nil
}

func checkPeer(p string) error {
	switch {
	case p == "":
		return errors.New("empty peer id")
	case len(p) > maxIDLen:
		return fmt.Errorf("peer id longer than %d bytes", maxIDLen)
	case strings.ContainsRune(p, 0) || !utf8.ValidString(p):
		return errors.New("peer id is not valid text")
	}
	return nil
}

// cleanName makes a display name safe to show the owner: control and
// formatting characters (newlines, bidi overrides that could disguise a
// name in a notification) become spaces, and it is cut to maxNameRunes.
func cleanName(s string) string {
	s = strings.ToValidUTF8(s, "")
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxNameRunes {
			break
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			r = ' '
		}
		b.WriteRune(r)
		n++
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
