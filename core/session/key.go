// Package session owns conversations at rest and in flight: session keys,
// the append-only JSONL transcripts (one sealed line per record), the
// per-session run queue, and the Manager that maps a key to its index row in
// genos.db and its transcript file.
package session

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxKeyLen is the longest session key, in bytes, that ParseKey accepts.
const MaxKeyLen = 512

// Key kinds.
const (
	KindMain     = "main"
	KindDirect   = "direct"
	KindGroup    = "group"
	KindSubagent = "subagent"
	KindCron     = "cron"
)

// ErrInvalidKey is wrapped by every error ParseKey and Key.Validate return.
var ErrInvalidKey = errors.New("invalid session key")

// Key identifies a session. Its string form (ARCHITECTURE.md section 5) is
// lower case and ':'-separated:
//
//	agent:<agentId>:main
//	agent:<agentId>:<channel>:direct:<peerId>[:thread:<id>]
//	agent:<agentId>:<channel>:group:<groupId>[:thread:<id>]
//	agent:<agentId>:subagent:<uuid>
//	agent:<agentId>:cron:<jobId>
//
// Only the fields of its Kind are set: Channel and Peer for direct, Channel
// and Group for group, Thread optionally for either, ID for subagent and cron.
type Key struct {
	AgentID string
	Kind    string
	Channel string
	Peer    string
	Group   string
	Thread  string
	ID      string
}

// MainKey returns the key of an agent's main session.
func MainKey(agentID string) Key {
	return Key{AgentID: lower(agentID), Kind: KindMain}
}

// DirectKey returns the key of a direct conversation with peer on channel.
func DirectKey(agentID, channel, peer string) Key {
	return Key{AgentID: lower(agentID), Kind: KindDirect, Channel: lower(channel), Peer: lower(peer)}
}

// GroupKey returns the key of a group conversation on channel.
func GroupKey(agentID, channel, group string) Key {
	return Key{AgentID: lower(agentID), Kind: KindGroup, Channel: lower(channel), Group: lower(group)}
}

// SubagentKey returns the key of a subagent session.
func SubagentKey(agentID, id string) Key {
	return Key{AgentID: lower(agentID), Kind: KindSubagent, ID: lower(id)}
}

// CronKey returns the key of a cron job's session.
func CronKey(agentID, jobID string) Key {
	return Key{AgentID: lower(agentID), Kind: KindCron, ID: lower(jobID)}
}

// WithThread returns k scoped to a thread. Only direct and group keys carry
// threads; Validate rejects a thread on any other kind.
func (k Key) WithThread(thread string) Key {
	k.Thread = lower(thread)
	return k
}

func lower(s string) string { return strings.ToLower(s) }

// String returns the canonical form of k, or "" when k.Kind is unknown. It
// does not validate: call Validate (or ParseKey the result) for that.
func (k Key) String() string {
	var b strings.Builder
	b.WriteString("agent:")
	b.WriteString(k.AgentID)
	b.WriteByte(':')
	switch k.Kind {
	case KindMain:
		b.WriteString(KindMain)
	case KindSubagent, KindCron:
		b.WriteString(k.Kind)
		b.WriteByte(':')
		b.WriteString(k.ID)
	case KindDirect, KindGroup:
		b.WriteString(k.Channel)
		b.WriteByte(':')
		b.WriteString(k.Kind)
		b.WriteByte(':')
		if k.Kind == KindDirect {
			b.WriteString(k.Peer)
		} else {
			b.WriteString(k.Group)
		}
		if k.Thread != "" {
			b.WriteString(":thread:")
			b.WriteString(k.Thread)
		}
	default:
		return ""
	}
	return b.String()
}

// ParseKey parses and normalises (lower-cases) a session key. The error wraps
// ErrInvalidKey and says what is wrong; it never echoes the input, which may
// be long or hold a peer's identifier.
func ParseKey(s string) (Key, error) {
	if s == "" {
		return Key{}, keyErr("empty")
	}
	if len(s) > MaxKeyLen {
		return Key{}, keyErr("longer than %d bytes", MaxKeyLen)
	}
	if !utf8.ValidString(s) {
		return Key{}, keyErr("not valid UTF-8")
	}
	s = strings.ToLower(s)
	seg := strings.Split(s, ":")
	if seg[0] != "agent" {
		return Key{}, keyErr(`must start with "agent:"`)
	}
	if len(seg) < 3 {
		return Key{}, keyErr("missing the part after the agent id")
	}
	k := Key{AgentID: seg[1]}
	switch seg[2] {
	case KindMain:
		if len(seg) != 3 {
			return Key{}, keyErr("main key has extra segments")
		}
		k.Kind = KindMain
	case KindSubagent, KindCron:
		if len(seg) != 4 {
			return Key{}, keyErr("%s key must be agent:<agentId>:%s:<id>", seg[2], seg[2])
		}
		k.Kind, k.ID = seg[2], seg[3]
	default:
		if len(seg) < 5 {
			return Key{}, keyErr("channel key must be agent:<agentId>:<channel>:direct|group:<id>")
		}
		k.Channel = seg[2]
		switch seg[3] {
		case KindDirect:
			k.Kind, k.Peer = KindDirect, seg[4]
		case KindGroup:
			k.Kind, k.Group = KindGroup, seg[4]
		default:
			return Key{}, keyErr(`channel key scope must be "direct" or "group"`)
		}
		switch {
		case len(seg) == 5:
		case len(seg) == 7 && seg[5] == "thread":
			k.Thread = seg[6]
			if k.Thread == "" {
				return Key{}, keyErr("empty thread id")
			}
		default:
			return Key{}, keyErr(`only ":thread:<id>" may follow a direct or group id`)
		}
	}
	if err := k.Validate(); err != nil {
		return Key{}, err
	}
	return k, nil
}

// Validate reports whether k is a well-formed, normalised key: a known kind
// with exactly its fields set, an 8 lowercase hex agent id, lower-case
// segments without ':', whitespace or control characters, a channel name that
// is not a reserved kind word, and a string form of at most MaxKeyLen bytes.
func (k Key) Validate() error {
	if !isAgentID(k.AgentID) {
		return keyErr("agent id must be 8 lowercase hex characters")
	}
	type field struct{ name, val string }
	var set, unset []field
	switch k.Kind {
	case KindMain:
		unset = []field{{"channel", k.Channel}, {"peer", k.Peer}, {"group", k.Group}, {"thread", k.Thread}, {"id", k.ID}}
	case KindSubagent, KindCron:
		set = []field{{"id", k.ID}}
		unset = []field{{"channel", k.Channel}, {"peer", k.Peer}, {"group", k.Group}, {"thread", k.Thread}}
	case KindDirect:
		set = []field{{"channel", k.Channel}, {"peer", k.Peer}}
		unset = []field{{"group", k.Group}, {"id", k.ID}}
	case KindGroup:
		set = []field{{"channel", k.Channel}, {"group", k.Group}}
		unset = []field{{"peer", k.Peer}, {"id", k.ID}}
	default:
		return keyErr("unknown kind")
	}
	for _, f := range set {
		if f.val == "" {
			return keyErr("empty %s", f.name)
		}
		if err := checkSegment(f.name, f.val); err != nil {
			return err
		}
	}
	for _, f := range unset {
		if f.val != "" {
			return keyErr("%s key cannot have a %s", k.Kind, f.name)
		}
	}
	if k.Thread != "" {
		if err := checkSegment("thread", k.Thread); err != nil {
			return err
		}
	}
	if k.Channel != "" {
		switch k.Channel {
		case "agent", KindMain, KindSubagent, KindCron, KindDirect, KindGroup, "thread":
			// These would make the string form ambiguous to parse.
			return keyErr("channel name %q is reserved", k.Channel)
		}
	}
	if len(k.String()) > MaxKeyLen {
		return keyErr("longer than %d bytes", MaxKeyLen)
	}
	return nil
}

// checkSegment rejects what would break the ':'-separated form or make keys
// unsafe to show and log.
func checkSegment(name, s string) error {
	if !utf8.ValidString(s) {
		return keyErr("%s is not valid UTF-8", name)
	}
	if s != strings.ToLower(s) {
		return keyErr("%s is not lower case", name)
	}
	for _, r := range s {
		switch {
		case r == ':':
			return keyErr("%s contains ':'", name)
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			return keyErr("%s contains a control character", name)
		case unicode.IsSpace(r):
			return keyErr("%s contains whitespace", name)
		}
	}
	return nil
}

func isAgentID(s string) bool {
	if len(s) != 8 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func keyErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidKey, fmt.Sprintf(format, args...))
}
