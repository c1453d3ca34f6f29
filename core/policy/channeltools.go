package policy

import (
	"errors"
	"fmt"
	"slices"
)

// VoiceChannel is the channel name of spoken conversations. Besides exec,
// voice gets no write and no file reads (ARCHITECTURE.md section 7): whoever
// is near the microphone is not necessarily the owner.
const VoiceChannel = "voice"

// OwnerOnlyCategory is the tool category only the owner may use from a
// channel: changing configuration, which includes who may talk to the
// assistant.
const OwnerOnlyCategory = "config"

// PrivateCategory is the owner's memory: what the assistant knows about its
// user is not for the other people it talks to on channels, so non-owners
// get neither the memory tools nor memories prefetched into their runs.
const PrivateCategory = "memory"

// ownerOnlyTools returns the tools only the owner may use from a channel,
// whatever their category: configuration, and linking or unlinking channel
// accounts.
func ownerOnlyTools() []string {
	return []string{"config", "config_manage", "channels_login", "channels_logout"}
}

// IsOwnerOnlyTool reports whether the tool named name is reserved to the
// owner on messaging channels.
func IsOwnerOnlyTool(name string) bool { return slices.Contains(ownerOnlyTools(), name) }

// strictness orders modes: allow < ask < deny. An invalid mode counts as
// deny so that a typo tightens instead of loosening.
func strictness(m Mode) int {
	switch m {
	case ModeAllow:
		return 0
	case ModeAsk:
		return 1
	}
	return 2
}

// stricter returns the stricter of a and b, always a valid mode.
func stricter(a, b Mode) Mode {
	switch max(strictness(a), strictness(b)) {
	case 0:
		return ModeAllow
	case 1:
		return ModeAsk
	}
	return ModeDeny
}

// ChannelToolRules returns the tool rules for a run triggered from a
// messaging channel: base (the agent's rules) tightened for channel, for a
// sender who is the owner or not, and by the channel's overrides. The result
// is never looser than base for any tool, and:
//
//   - the exec category is always deny; nothing can allow it again;
//   - on VoiceChannel, write and read are deny too;
//   - for a non-owner sender, the OwnerOnlyCategory, the PrivateCategory
//     and the owner-only tools (IsOwnerOnlyTool) are deny;
//   - overrides (keys are category names or, for anything else, tool names)
//     can only tighten: a category takes the stricter of its mode and the
//     override; a tool override of deny or ask denies the tool; allow is
//     ignored; an invalid mode counts as deny.
//
// Rules cannot tell which category a tool-level rule belongs to, and a tool
// rule wins over its category in Rules.Mode, so a base entry like
// {"exec": "allow"} for a shell tool would otherwise slip past the exec ban.
// Tool-level rules are therefore carried over only in their tightening form:
// deny stays deny, ask becomes deny (asking could still end in the tool
// running) and allow is dropped (the tool falls back to its category's mode).
// Every category has an explicit mode in the result (missing or invalid ones
// in base become ask, as Rules.Mode would treat them).
func ChannelToolRules(base Rules, channel string, owner bool, overrides map[string]Mode) Rules {
	out := Rules{Categories: make(map[string]Mode, len(knownCategories)), Tools: map[string]Mode{}}
	for _, c := range knownCategories {
		m, ok := base.Categories[c]
		if !ok || !m.Valid() {
			m = ModeAsk
		}
		out.Categories[c] = m
	}
	for name, m := range base.Tools {
		if !m.Valid() {
			continue // Rules.Mode ignores it too: the category applies
		}
		if m != ModeAllow {
			out.Tools[name] = ModeDeny
		}
	}

	for key, m := range overrides {
		switch {
		case key == "":
		case knownCategory(key):
			out.Categories[key] = stricter(out.Categories[key], m)
		case m != ModeAllow:
			out.Tools[key] = ModeDeny
		}
	}

	// The hard floors go last so that nothing above can undo them.
	out.Categories["exec"] = ModeDeny
	if channel == VoiceChannel {
		out.Categories["write"] = ModeDeny
		out.Categories["read"] = ModeDeny
	}
	if !owner {
		out.Categories[OwnerOnlyCategory] = ModeDeny
		out.Categories[PrivateCategory] = ModeDeny
		for _, t := range ownerOnlyTools() {
			out.Tools[t] = ModeDeny
		}
	}
	return out
}

// ValidateToolOverrides reports every problem in a channel's tool
// overrides (config validation): empty keys, invalid modes, and allow, which
// an override cannot grant.
func ValidateToolOverrides(overrides map[string]Mode) error {
	var errs []error
	for _, k := range sortedKeys(overrides) {
		m := overrides[k]
		switch {
		case k == "":
			errs = append(errs, errors.New("tool overrides: empty category or tool name"))
		case !m.Valid():
			errs = append(errs, fmt.Errorf("tool overrides.%s: invalid mode %q (want ask or deny)", k, m))
		case m == ModeAllow:
			errs = append(errs, fmt.Errorf("tool overrides.%s: a channel override can only tighten (want ask or deny)", k))
		}
	}
	return errors.Join(errs...)
}
