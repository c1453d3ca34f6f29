// Package policy decides whether a tool call may run: per-category and
// per-tool rules map each call to allow, ask or deny, and the approvals queue
// holds "ask" calls until the owner answers (tray, CLI, RPC or chat) or the
// request times out. Later it also takes DM policy, pairing, channel tool
// restrictions and rate limits (see ARCHITECTURE.md, core/policy).
package policy

import (
	"errors"
	"fmt"
	"slices"
)

// Mode is what happens when a tool is called.
type Mode string

// The modes a rule can select.
const (
	// ModeAllow runs the tool without asking.
	ModeAllow Mode = "allow"
	// ModeAsk queues an approval and runs the tool only if the owner allows it.
	ModeAsk Mode = "ask"
	// ModeDeny refuses the call.
	ModeDeny Mode = "deny"
)

// Valid reports whether m is one of the known modes.
func (m Mode) Valid() bool {
	switch m {
	case ModeAllow, ModeAsk, ModeDeny:
		return true
	}
	return false
}

// knownCategories mirrors tools.Category. It is repeated here rather than
// imported so policy, which only sees category names, does not depend on the
// tool implementations.
var knownCategories = []string{"read", "write", "exec", "network", "messaging", "config", "memory", "sessions"}

func knownCategory(c string) bool { return slices.Contains(knownCategories, c) }

// Rules maps tool categories and individual tools to a mode. A rule for the
// tool's name wins over the rule for its category, so an agent can, for
// example, allow one network tool while asking for the rest.
type Rules struct {
	Categories map[string]Mode `json:"categories,omitempty"`
	Tools      map[string]Mode `json:"tools,omitempty"`
}

// DefaultRules returns the rules a new agent starts with: reading, writing
// its own workspace, memory and sessions run freely; anything that executes
// code, reaches the network, messages people or changes configuration asks.
func DefaultRules() Rules {
	return Rules{
		Categories: map[string]Mode{
			"read":      ModeAllow,
			"write":     ModeAllow,
			"memory":    ModeAllow,
			"sessions":  ModeAllow,
			"exec":      ModeAsk,
			"network":   ModeAsk,
			"messaging": ModeAsk,
			"config":    ModeAsk,
		},
	}
}

// Mode returns the mode for a call of tool, which belongs to category. A
// valid tool rule wins; otherwise the category rule applies. An unknown
// category, a category without a rule, or an invalid mode in the maps all
// give ModeAsk: when in doubt the owner decides, nothing runs silently.
func (r Rules) Mode(tool, category string) Mode {
	if m, ok := r.Tools[tool]; ok && m.Valid() {
		return m
	}
	if !knownCategory(category) {
		return ModeAsk
	}
	if m, ok := r.Categories[category]; ok && m.Valid() {
		return m
	}
	return ModeAsk
}

// Validate reports every problem in r: unknown categories, empty tool names
// and invalid modes.
func (r Rules) Validate() error {
	var errs []error
	for _, c := range sortedKeys(r.Categories) {
		if !knownCategory(c) {
			errs = append(errs, fmt.Errorf("categories: unknown category %q (known: %v)", c, knownCategories))
		}
		if m := r.Categories[c]; !m.Valid() {
			errs = append(errs, fmt.Errorf("categories.%s: invalid mode %q (want allow, ask or deny)", c, m))
		}
	}
	for _, t := range sortedKeys(r.Tools) {
		if t == "" {
			errs = append(errs, errors.New("tools: empty tool name"))
		}
		if m := r.Tools[t]; !m.Valid() {
			errs = append(errs, fmt.Errorf("tools.%s: invalid mode %q (want allow, ask or deny)", t, m))
		}
	}
	return errors.Join(errs...)
}

func sortedKeys(m map[string]Mode) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
