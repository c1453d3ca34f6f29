// Package chat holds the domain types every layer shares: messages, tool calls,
// transcript records, provenance and channel envelopes. It imports only the
// standard library so that channels, voice and the UI can depend on it without
// pulling in the engine.
package chat

import (
	"encoding/json"
	"time"
)

// Role is who produced a message.
type Role string

// Roles used in transcripts and model requests.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool"
)

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	switch r {
	case RoleSystem, RoleUser, RoleAssistant, RoleTool:
		return true
	}
	return false
}

// ToolCall is a model's request to run one tool.
type ToolCall struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

// Message is one turn as sent to a model provider.
type Message struct {
	Role       Role       `json:"role"`
	Content    string     `json:"content,omitempty"`
	ToolCalls  []ToolCall `json:"toolCalls,omitempty"`
	ToolCallID string     `json:"toolCallId,omitempty"` // for RoleTool: which call this answers
	ToolName   string     `json:"toolName,omitempty"`   // for RoleTool
	IsError    bool       `json:"isError,omitempty"`    // for RoleTool: the tool failed
}

// Usage counts tokens for one model call or a whole run.
type Usage struct {
	InputTokens  int64 `json:"inputTokens"`
	OutputTokens int64 `json:"outputTokens"`
	CacheRead    int64 `json:"cacheReadTokens,omitempty"`
	CacheWrite   int64 `json:"cacheWriteTokens,omitempty"`
	// ToolTokensSaved estimates the prompt tokens the semantic tool filter
	// saved by not offering tools unrelated to the message.
	ToolTokensSaved int64 `json:"toolTokensSaved,omitempty"`
	// MemoryTokens estimates the prompt tokens spent on prefetched memories.
	MemoryTokens int64 `json:"memoryTokens,omitempty"`
}

// Add accumulates o into u.
func (u *Usage) Add(o Usage) {
	u.InputTokens += o.InputTokens
	u.OutputTokens += o.OutputTokens
	u.CacheRead += o.CacheRead
	u.CacheWrite += o.CacheWrite
	u.ToolTokensSaved += o.ToolTokensSaved
	u.MemoryTokens += o.MemoryTokens
}

// ProvenanceKind says where a user-role record came from.
type ProvenanceKind string

// Provenance kinds, as in ARCHITECTURE.md section 5.
const (
	ExternalUser   ProvenanceKind = "external_user"
	InterSession   ProvenanceKind = "inter_session"
	InternalSystem ProvenanceKind = "internal_system"
)

// Provenance marks the origin of a record so that text from tools or other
// agents is never mistaken for the owner's instructions.
type Provenance struct {
	Kind          ProvenanceKind `json:"kind"`
	Channel       string         `json:"channel,omitempty"`
	Sender        string         `json:"sender,omitempty"`
	SourceSession string         `json:"sourceSession,omitempty"`
	Tool          string         `json:"tool,omitempty"`
}

// Approval records the decision taken on a tool call that needed one.
type Approval struct {
	ID       string `json:"id"`
	Decision string `json:"decision"` // allow-once | allow-always | deny | timeout
}

// Record is one line of a session transcript.
type Record struct {
	ID         string      `json:"id"`
	RunID      string      `json:"runId,omitempty"`
	Kind       string      `json:"kind,omitempty"` // "" for messages; RecordError, RecordAborted, RecordCompaction, RecordMemoryFlush
	Role       Role        `json:"role"`
	Content    string      `json:"content,omitempty"`
	ToolCalls  []ToolCall  `json:"toolCalls,omitempty"`
	ToolCallID string      `json:"toolCallId,omitempty"`
	ToolName   string      `json:"toolName,omitempty"`
	IsError    bool        `json:"isError,omitempty"`
	Approval   *Approval   `json:"approval,omitempty"`
	Provenance *Provenance `json:"provenance,omitempty"`
	Usage      *Usage      `json:"usage,omitempty"`
	Model      string      `json:"model,omitempty"`
	// Compaction is set on a RecordCompaction record, whose Content is the
	// TOON summary of the records it replaces in the model's context.
	Compaction *Compaction `json:"compaction,omitempty"`
	Time       time.Time   `json:"ts"`
}

// Record kinds other than plain messages ("").
const (
	// RecordError marks a run that ended with an error.
	RecordError = "error"
	// RecordAborted marks a run the user aborted; Content keeps the partial reply.
	RecordAborted = "aborted"
	// RecordCompaction holds the summary that stands in for older records in
	// the model's context; the older records stay in the transcript.
	RecordCompaction = "compaction"
	// RecordMemoryFlush marks the records of the silent turn before a
	// compaction in which the agent stores durable facts; they are kept for
	// the record but never shown to the model again.
	RecordMemoryFlush = "memory-flush"
)

// Compaction describes what a compaction record summarises.
type Compaction struct {
	// Through is the ID of the last record the summary covers; the model
	// sees the summary, then the records after this one.
	Through string `json:"through"`
	// Records is how many transcript records the summary replaced.
	Records int `json:"records"`
	// TokensBefore and TokensAfter are estimated context sizes around the
	// compaction.
	TokensBefore int `json:"tokensBefore"`
	TokensAfter  int `json:"tokensAfter"`
	// Trigger is "auto" (the context passed its threshold) or "manual".
	Trigger string `json:"trigger"`
}

// Message converts a transcript record into the message a model sees.
func (r Record) Message() Message {
	return Message{
		Role:       r.Role,
		Content:    r.Content,
		ToolCalls:  r.ToolCalls,
		ToolCallID: r.ToolCallID,
		ToolName:   r.ToolName,
		IsError:    r.IsError,
	}
}
