package config

import (
	"path/filepath"
	"strings"
)

// Embedders Memory.Embedder may name. The empty embedder means none: memory
// search and the tool filter use keywords (BM25) only.
const (
	EmbedderOpenAI = "openai" // any OpenAI-compatible /v1/embeddings server (OpenAI, Ollama, LM Studio...)
	EmbedderONNX   = "onnx"   // a local BERT-family ONNX model the user installed
)

// Memory defaults.
const (
	// DefaultHalfLifeDays is 0: decay is off unless asked for. Fused
	// scores are rank-based and close together, so a decay multiplier
	// decides the order by itself, and on the labelled set a 30-day
	// half-life cut recall@5 from 0.87 to 0.28.
	DefaultHalfLifeDays        = 0
	DefaultContextWindowTokens = 128000
	DefaultReserveTokens       = 16000
	DefaultKeepTurns           = 4
)

// Memory configures the agent's memory, the embedder behind hybrid search
// and the tool filter, and compaction.
type Memory struct {
	// Embedder is "openai", "onnx" or "" (none: keywords only, which is
	// said once in the status, never treated as an error).
	Embedder string `json:"embedder,omitempty"`
	// BaseURL is the OpenAI-compatible endpoint, such as
	// http://127.0.0.1:11434/v1 for Ollama. Empty means OpenAI's.
	BaseURL string `json:"baseUrl,omitempty"`
	// Model is the embedding model name sent to the endpoint.
	Model string `json:"model,omitempty"`
	// APIKeyRef / APIKeyEnv name the embedder's API key like Model's do.
	// Local servers usually need neither.
	APIKeyRef string `json:"apiKeyRef,omitempty"`
	APIKeyEnv string `json:"apiKeyEnv,omitempty"`
	// Dimensions asks the endpoint for vectors of this length (models that
	// support shortening) and checks every answer against it; 0 accepts the
	// model's own.
	Dimensions int `json:"dimensions,omitempty"`
	// ONNXModel is the path of a local model.onnx (vocab.txt beside it),
	// absolute or relative to the state dir's models/ directory.
	ONNXModel string `json:"onnxModel,omitempty"`
	// HalfLifeDays decays the score of dated notes with their age;
	// MEMORY.md never decays. 0 turns decay off. A pointer so an explicit 0
	// survives defaults.
	HalfLifeDays *int `json:"halfLifeDays,omitempty"`
	// NoPrefetch turns off the memories added to each message's context.
	NoPrefetch bool `json:"noPrefetch,omitempty"`
	// NoToolFilter offers every allowed tool on every message instead of
	// the ones relevant to it.
	NoToolFilter bool `json:"noToolFilter,omitempty"`
	// ContextWindowTokens is the model's context window; a session is
	// compacted when its prompt passes ContextWindowTokens - ReserveTokens.
	ContextWindowTokens int `json:"contextWindowTokens,omitempty"`
	ReserveTokens       int `json:"reserveTokens,omitempty"`
	// KeepTurns is how many of the latest user turns compaction never
	// summarises.
	KeepTurns int `json:"keepTurns,omitempty"`
}

func (m *Memory) applyDefaults() {
	if m.HalfLifeDays == nil {
		n := DefaultHalfLifeDays
		m.HalfLifeDays = &n
	}
	setInt(&m.ContextWindowTokens, DefaultContextWindowTokens)
	setInt(&m.ReserveTokens, DefaultReserveTokens)
	setInt(&m.KeepTurns, DefaultKeepTurns)
}

// ONNXModelPath resolves ONNXModel against the state dir.
func (m Memory) ONNXModelPath(stateDir string) string {
	if m.ONNXModel == "" || filepath.IsAbs(m.ONNXModel) {
		return m.ONNXModel
	}
	return filepath.Join(stateDir, "models", m.ONNXModel)
}

func (m Memory) validate(v *validator) {
	switch m.Embedder {
	case "":
	case EmbedderOpenAI:
		if m.Model == "" {
			v.addf("memory.model", "must name the embedding model when memory.embedder is %q", EmbedderOpenAI)
		}
	case EmbedderONNX:
		if m.ONNXModel == "" {
			v.addf("memory.onnxModel", "must be the path of a model.onnx when memory.embedder is %q", EmbedderONNX)
		}
	default:
		v.addf("memory.embedder", "must be %q, %q or empty, got %q", EmbedderOpenAI, EmbedderONNX, m.Embedder)
	}
	if len(m.Model) > maxModelNameLen || strings.ContainsAny(m.Model, " \t\r\n") {
		v.addf("memory.model", "must be at most %d bytes without spaces, got %q", maxModelNameLen, m.Model)
	}
	v.endpoint("memory", m.BaseURL, m.APIKeyRef, m.APIKeyEnv)
	v.intRange("memory.dimensions", m.Dimensions, 0, 16384)
	if len(m.ONNXModel) > 4096 || strings.ContainsRune(m.ONNXModel, 0) {
		v.addf("memory.onnxModel", "must be a file path")
	}
	if m.HalfLifeDays == nil {
		v.addf("memory.halfLifeDays", "must be set (0 turns decay off)")
	} else {
		v.intRange("memory.halfLifeDays", *m.HalfLifeDays, 0, 36500)
	}
	v.intRange("memory.contextWindowTokens", m.ContextWindowTokens, 2048, 10_000_000)
	v.intRange("memory.reserveTokens", m.ReserveTokens, 256, m.ContextWindowTokens/2)
	v.intRange("memory.keepTurns", m.KeepTurns, 1, 1000)
}
