// Package tools owns the Tool contract the agent loop calls, the registry that
// holds a set of tools, and the built-in file and shell tools (read, write,
// edit, ls, exec). Every file tool is confined to the agent workspace by
// construction through os.Root and, once a vault exists, sealed at rest
// through a Sealer that read, write and edit apply transparently; approval
// policy lives in core/policy, not here.
package tools

import (
	"context"
	"encoding/json"
	"fmt"
)

// Category groups tools for approval policy. Policy maps each category to
// allow, ask or deny, so every tool must declare exactly one.
type Category string

// The known tool categories.
const (
	CategoryRead      Category = "read"
	CategoryWrite     Category = "write"
	CategoryExec      Category = "exec"
	CategoryNetwork   Category = "network"
	CategoryMessaging Category = "messaging"
	CategoryConfig    Category = "config"
	CategoryMemory    Category = "memory"
	CategorySessions  Category = "sessions"
)

// Valid reports whether c is one of the known categories.
func (c Category) Valid() bool {
	switch c {
	case CategoryRead, CategoryWrite, CategoryExec, CategoryNetwork,
		CategoryMessaging, CategoryConfig, CategoryMemory, CategorySessions:
		return true
	}
	return false
}

// Env is what a tool knows about the run that called it.
type Env struct {
	// Workspace is the absolute path of the agent workspace directory. File
	// tools refuse to touch anything outside it.
	Workspace string
	// AgentID, SessionKey and RunID identify the caller for logs and audit.
	AgentID, SessionKey, RunID string
	// NoPrivate keeps the file tools away from the owner's memory notes
	// (MEMORY.md and memory/): set for runs whose rules deny the memory
	// category, such as other people's messages on a channel, so they
	// cannot read around the memory tools they were not given.
	NoPrivate bool
}

// Result is what the model sees after a tool call.
type Result struct {
	// Content is the text handed back to the model.
	Content string
	// IsError marks a tool-level failure the model should see and can react
	// to (bad path, file not found, non-zero exit), as opposed to an internal
	// failure, which Run reports through its error return.
	IsError bool
}

// Tool is one capability offered to a model.
type Tool struct {
	// Name is what the model calls; it matches ^[a-z][a-z0-9_]{0,63}$ so it
	// is accepted by every provider.
	Name string
	// Description tells the model when and how to use the tool.
	Description string
	// Schema is the JSON schema object describing the arguments.
	Schema json.RawMessage
	// Category decides which approval policy applies.
	Category Category
	// Examples are a few user intents the tool serves ("what's the weather
	// in Paris", "remind me at 5"). They are never sent to the model: the
	// semantic tool filter (see Filter) matches messages against the name,
	// description and these examples, so a tool is offered for requests its
	// description does not spell out.
	Examples []string
	// Run executes one call. A returned error is an internal failure (the
	// workspace is missing, the context was cancelled); problems the model
	// caused or can fix come back as a Result with IsError set.
	Run func(ctx context.Context, env Env, args json.RawMessage) (Result, error)
}

// errorResult is a tool-level failure with a message for the model.
func errorResult(format string, a ...any) Result {
	return Result{Content: fmt.Sprintf(format, a...), IsError: true}
}
