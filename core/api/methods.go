package api

import (
	"encoding/json"
	"time"

	"github.com/genos-project/genos/core/chat"
)

// Method names.
const (
	MethodConnect          = "connect"
	MethodHealth           = "health"
	MethodStatus           = "status"
	MethodChatSend         = "chat.send"
	MethodChatHistory      = "chat.history"
	MethodChatAbort        = "chat.abort"
	MethodSessionsList     = "sessions.list"
	MethodApprovalsList    = "approvals.list"
	MethodApprovalsResolve = "approvals.resolve"
	MethodModelsList       = "models.list"
	MethodVaultStatus      = "vault.status"
	MethodVaultUnlock      = "vault.unlock"
	MethodVaultLock        = "vault.lock"
	MethodVaultCreate      = "vault.create"
	MethodVaultRekey       = "vault.rekey"
	MethodChannelsStatus   = "channels.status"
	MethodChannelsSet      = "channels.set"
	MethodChannelsLogin    = "channels.login"
	MethodChannelsLogout   = "channels.logout"
	MethodPairingList      = "channel.pairing.list"
	MethodPairingApprove   = "channel.pairing.approve"
	MethodPairingDeny      = "channel.pairing.deny"
	MethodSessionsCompact  = "sessions.compact"
	MethodMemorySearch     = "memory.search"
	MethodMemoryStatus     = "memory.status"
	MethodMemoryReindex    = "memory.reindex"
)

// Event names.
const (
	EventChallenge         = "connect.challenge"
	EventChat              = "chat"
	EventAgent             = "agent"
	EventApprovalRequested = "approval.requested"
	EventApprovalResolved  = "approval.resolved"
	EventSessionsChanged   = "sessions.changed"
	EventTick              = "tick"
	EventVaultChanged      = "vault.changed"
	EventChannelsChanged   = "channels.changed"
	EventChannelQR         = "channels.qr"
	EventPairingRequested  = "pairing.requested"
	EventPairingResolved   = "pairing.resolved"
)

// Methods lists every method this build serves, in hello-ok order.
var Methods = []string{
	MethodHealth, MethodStatus, MethodChatSend, MethodChatHistory, MethodChatAbort,
	MethodSessionsList, MethodApprovalsList, MethodApprovalsResolve, MethodModelsList,
	MethodVaultStatus, MethodVaultUnlock, MethodVaultLock, MethodVaultCreate, MethodVaultRekey,
	MethodChannelsStatus, MethodChannelsSet, MethodChannelsLogin, MethodChannelsLogout,
	MethodPairingList, MethodPairingApprove, MethodPairingDeny,
	MethodSessionsCompact, MethodMemorySearch, MethodMemoryStatus, MethodMemoryReindex,
}

// Events lists every event this build emits.
var Events = []string{
	EventChat, EventAgent, EventApprovalRequested, EventApprovalResolved, EventSessionsChanged, EventTick,
	EventVaultChanged, EventChannelsChanged, EventChannelQR, EventPairingRequested, EventPairingResolved,
}

// Challenge is the payload of the connect.challenge event.
type Challenge struct {
	Nonce string `json:"nonce"`
	TS    int64  `json:"ts"`
}

// ClientInfo identifies a connecting client.
type ClientInfo struct {
	ID       string `json:"id"`
	Version  string `json:"version,omitempty"`
	Platform string `json:"platform,omitempty"`
	Mode     string `json:"mode,omitempty"` // cli | ui | channel | test
}

// Auth carries the client's credential.
type Auth struct {
	Token string `json:"token,omitempty"`
}

// ConnectParams is the first request on every connection.
type ConnectParams struct {
	MinProtocol int        `json:"minProtocol"`
	MaxProtocol int        `json:"maxProtocol"`
	Client      ClientInfo `json:"client"`
	Auth        Auth       `json:"auth"`
	Nonce       string     `json:"nonce,omitempty"`
	// Scope limits chat and agent events to the sessions this connection
	// has used (ScopeOwn); the default sends every session's events, which
	// is what a UI showing all activity wants.
	Scope string `json:"scope,omitempty"`
}

// Event scopes for ConnectParams.Scope.
const (
	ScopeAll = "all"
	ScopeOwn = "own"
)

// HelloOK answers a successful connect.
type HelloOK struct {
	Type     string   `json:"type"` // "hello-ok"
	Protocol int      `json:"protocol"`
	Server   Server   `json:"server"`
	Methods  []string `json:"methods"`
	Events   []string `json:"events"`
	TickMs   int      `json:"tickIntervalMs"`
}

// Server describes the daemon in hello-ok and status.
type Server struct {
	Version string `json:"version"`
	ConnID  string `json:"connId,omitempty"`
}

// HealthResult answers health and GET /health.
type HealthResult struct {
	OK       bool     `json:"ok"`
	Version  string   `json:"version"`
	UptimeMs int64    `json:"uptimeMs"`
	Warnings []string `json:"warnings,omitempty"`
}

// StatusResult answers status.
type StatusResult struct {
	Version          string   `json:"version"`
	StateDir         string   `json:"stateDir"`
	Listen           string   `json:"listen"`
	DefaultAgent     Agent    `json:"defaultAgent"`
	ModelConfigured  bool     `json:"modelConfigured"`
	Model            string   `json:"model,omitempty"`
	Provider         string   `json:"provider,omitempty"`
	PendingApprovals int      `json:"pendingApprovals"`
	ActiveRuns       int      `json:"activeRuns"`
	Sessions         int      `json:"sessions"`
	Warnings         []string `json:"warnings,omitempty"`
	// Vault is none | locked | unlocked (VaultNone...). While locked,
	// Sessions, model and approvals are not known and read as zero.
	Vault string `json:"vault"`
}

// Agent is the public view of an agent.
type Agent struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// ChatSendParams starts a run on a session.
type ChatSendParams struct {
	SessionKey     string            `json:"sessionKey"`
	Message        string            `json:"message"`
	IdempotencyKey string            `json:"idempotencyKey"`
	Attachments    []chat.Attachment `json:"attachments,omitempty"`
	TimeoutMs      int64             `json:"timeoutMs,omitempty"`
}

// ChatSendResult names the run that chat.send started (or had started for
// the same idempotency key).
type ChatSendResult struct {
	RunID string `json:"runId"`
}

// Chat event states.
const (
	ChatDelta   = "delta"
	ChatFinal   = "final"
	ChatAborted = "aborted"
	ChatError   = "error"
)

// ChatEvent streams the progress of one run.
type ChatEvent struct {
	RunID        string       `json:"runId"`
	SessionKey   string       `json:"sessionKey"`
	Seq          int          `json:"seq"`
	State        string       `json:"state"`
	Delta        string       `json:"delta,omitempty"`
	Message      *chat.Record `json:"message,omitempty"`
	ErrorMessage string       `json:"errorMessage,omitempty"`
	Usage        *chat.Usage  `json:"usage,omitempty"`
	StopReason   string       `json:"stopReason,omitempty"`
}

// Agent event phases.
const (
	ToolStart = "tool.start"
	ToolEnd   = "tool.end"
)

// AgentEvent reports tool activity inside a run.
type AgentEvent struct {
	RunID      string          `json:"runId"`
	SessionKey string          `json:"sessionKey"`
	Phase      string          `json:"phase"`
	Tool       string          `json:"tool"`
	ToolCallID string          `json:"toolCallId"`
	Args       json.RawMessage `json:"args,omitempty"`
	Result     string          `json:"result,omitempty"`
	IsError    bool            `json:"isError,omitempty"`
}

// ChatHistoryParams pages through a session transcript, newest last.
// Before is a record id: only records older than it are returned.
type ChatHistoryParams struct {
	SessionKey string `json:"sessionKey"`
	Limit      int    `json:"limit,omitempty"`
	Before     string `json:"before,omitempty"`
}

// ChatHistoryResult holds a page of transcript records, oldest first.
type ChatHistoryResult struct {
	SessionKey string        `json:"sessionKey"`
	Records    []chat.Record `json:"records"`
	HasMore    bool          `json:"hasMore"`
}

// ChatAbortParams stops the active run of a session (or a specific run).
type ChatAbortParams struct {
	SessionKey string `json:"sessionKey"`
	RunID      string `json:"runId,omitempty"`
}

// ChatAbortResult says whether a run was stopped.
type ChatAbortResult struct {
	Aborted bool   `json:"aborted"`
	RunID   string `json:"runId,omitempty"`
}

// SessionsListParams filters sessions.list.
type SessionsListParams struct {
	AgentID string `json:"agentId,omitempty"`
	Limit   int    `json:"limit,omitempty"`
}

// SessionInfo is one row of sessions.list.
type SessionInfo struct {
	Key       string    `json:"key"`
	AgentID   string    `json:"agentId"`
	Channel   string    `json:"channel,omitempty"`
	Peer      string    `json:"peer,omitempty"`
	UpdatedAt time.Time `json:"updatedAt"`
	Title     string    `json:"title,omitempty"`
}

// SessionsListResult answers sessions.list, most recently updated first.
type SessionsListResult struct {
	Sessions []SessionInfo `json:"sessions"`
}

// Approval is a pending request to run a tool.
type Approval struct {
	ID         string          `json:"id"`
	AgentID    string          `json:"agentId"`
	SessionKey string          `json:"sessionKey"`
	RunID      string          `json:"runId,omitempty"`
	Tool       string          `json:"tool"`
	Category   string          `json:"category"`
	Args       json.RawMessage `json:"args"`
	Reason     string          `json:"reason,omitempty"`
	CreatedAt  time.Time       `json:"createdAt"`
	ExpiresAt  time.Time       `json:"expiresAt"`
}

// Approval decisions.
const (
	DecisionAllowOnce   = "allow-once"
	DecisionAllowAlways = "allow-always"
	DecisionDeny        = "deny"
	DecisionTimeout     = "timeout"
)

// ApprovalsListResult answers approvals.list.
type ApprovalsListResult struct {
	Approvals []Approval `json:"approvals"`
}

// ApprovalsResolveParams answers one approval.
type ApprovalsResolveParams struct {
	ID       string `json:"id"`
	Decision string `json:"decision"`
}

// ApprovalsResolveResult confirms a decision.
type ApprovalsResolveResult struct {
	ID       string `json:"id"`
	Decision string `json:"decision"`
}

// ApprovalResolvedEvent is the payload of approval.resolved.
type ApprovalResolvedEvent struct {
	ID         string `json:"id"`
	SessionKey string `json:"sessionKey"`
	Tool       string `json:"tool"`
	Decision   string `json:"decision"`
}

// ModelInfo is one row of models.list.
type ModelInfo struct {
	ID       string `json:"id"`
	Provider string `json:"provider"`
	Default  bool   `json:"default,omitempty"`
}

// ModelsListResult answers models.list.
type ModelsListResult struct {
	Models []ModelInfo `json:"models"`
	Error  string      `json:"error,omitempty"` // the provider could not be asked; Models holds the configured one
}

// TickEvent is the periodic keepalive.
type TickEvent struct {
	TS int64 `json:"ts"`
}

// Vault states in VaultStatus.State.
const (
	// VaultNone: no vault exists yet; data is stored in plaintext until
	// onboarding (or genos vault init) creates one.
	VaultNone = "none"
	// VaultLocked: sealed data cannot be read or written; only connect,
	// health, status and vault.* are served.
	VaultLocked = "locked"
	// VaultUnlocking: the daemon is unlocking from a key source at start;
	// requests that need the vault wait for it, and vault.changed follows.
	VaultUnlocking = "unlocking"
	// VaultUnlocked: the daemon works normally.
	VaultUnlocked = "unlocked"
)

// VaultStatus answers vault.status and vault.lock and is the payload of
// vault.changed.
type VaultStatus struct {
	State string `json:"state"` // none | locked | unlocking | unlocked
	// IdleLockMinutes is the auto-lock timeout; 0 means never.
	IdleLockMinutes int `json:"idleLockMinutes"`
	// KeySources lists the key sources that can unlock without typing
	// (keychain, secret-service, env), in the order they are tried.
	KeySources []string `json:"keySources,omitempty"`
	// QueuedInbound counts channel messages held while locked, to be
	// processed at unlock.
	QueuedInbound int `json:"queuedInbound"`
	// RekeyPending is true when an interrupted rekey finishes at the next
	// unlock.
	RekeyPending bool `json:"rekeyPending,omitempty"`
	// Warning reports a problem the user should know about that did not
	// stop the operation, such as a passphrase that could not be stored in
	// the OS key store.
	Warning string `json:"warning,omitempty"`
}

// VaultUnlockParams unlocks the vault with a typed passphrase (vault.unlock)
// or creates it (vault.create, which also migrates the plaintext state dir). With
// Remember set, the passphrase is also stored in the platform key store
// (macOS Keychain, Secret Service) so later starts unlock without typing.
type VaultUnlockParams struct {
	Passphrase string `json:"passphrase"`
	Remember   bool   `json:"remember,omitempty"`
}

// VaultRekeyParams changes the vault passphrase (vault.rekey): every file
// is re-sealed under a new salt while the gateway pauses.
type VaultRekeyParams struct {
	Passphrase    string `json:"passphrase"`
	NewPassphrase string `json:"newPassphrase"`
}

// ChannelsStatusResult answers channels.status; it is also the payload of
// channels.changed.
type ChannelsStatusResult struct {
	Channels []chat.ChannelStatus `json:"channels"`
}

// ChannelsSetParams turns a channel on or off and, for Telegram, stores its
// bot token in the vault (the token is never echoed back).
type ChannelsSetParams struct {
	Channel string `json:"channel"`
	Enabled bool   `json:"enabled"`
	Token   string `json:"token,omitempty"`
}

// ChannelsLoginParams starts a QR login (WhatsApp). The gateway emits
// channels.qr events with each code until the phone scans one; the call
// answers when paired, failed or timed out.
type ChannelsLoginParams struct {
	Channel string `json:"channel"`
}

// ChannelQREvent is the payload of channels.qr.
type ChannelQREvent struct {
	Channel string `json:"channel"`
	Code    string `json:"code"`
}

// ChannelParams names a channel (channels.logout, channel.pairing.list
// with an empty channel meaning all).
type ChannelParams struct {
	Channel string `json:"channel,omitempty"`
}

// PairingRequest is a stranger waiting for the owner's approval.
type PairingRequest struct {
	Channel   string    `json:"channel"`
	Code      string    `json:"code"`
	Peer      string    `json:"peer"`
	PeerName  string    `json:"peerName,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// PairingListResult answers channel.pairing.list.
type PairingListResult struct {
	Requests []PairingRequest `json:"requests"`
}

// PairingDecisionParams approves or denies a pairing by its code.
type PairingDecisionParams struct {
	Channel string `json:"channel"`
	Code    string `json:"code"`
}

// PairingResolvedEvent is the payload of pairing.resolved (and the answer
// of approve/deny).
type PairingResolvedEvent struct {
	Channel  string `json:"channel"`
	Code     string `json:"code"`
	Peer     string `json:"peer"`
	Decision string `json:"decision"` // approved | denied | expired | evicted
}
