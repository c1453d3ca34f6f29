package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestMemoryValidate(t *testing.T) {
	t.Parallel()
	zero := 0
	tests := []struct {
		name string
		edit func(m *Memory)
		want string // substring of the error; "" = valid
	}{
		{"defaults", func(*Memory) {}, ""},
		{"openai needs a model", func(m *Memory) { m.Embedder = EmbedderOpenAI }, "memory.model: must name"},
		{"openai ollama", func(m *Memory) {
			m.Embedder, m.Model, m.BaseURL = EmbedderOpenAI, "nomic-embed-text", "http://127.0.0.1:11434/v1"
		}, ""},
		{"onnx needs a path", func(m *Memory) { m.Embedder = EmbedderONNX }, "memory.onnxModel"},
		{"unknown embedder", func(m *Memory) { m.Embedder = "gemini" }, `memory.embedder: must be "openai", "onnx" or empty`},
		{"credentials in url", func(m *Memory) { m.BaseURL = "https://user:pw@example.com" }, "memory.baseUrl: must not contain credentials"},
		{"both key sources", func(m *Memory) { m.APIKeyRef, m.APIKeyEnv = "embed.key", "EMBED_KEY" }, "set apiKeyRef or apiKeyEnv"},
		{"decay off", func(m *Memory) { m.HalfLifeDays = &zero }, ""},
		{"reserve too large", func(m *Memory) { m.ReserveTokens = m.ContextWindowTokens }, "memory.reserveTokens"},
		{"tiny window", func(m *Memory) { m.ContextWindowTokens = 100 }, "memory.contextWindowTokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			tt.edit(&c.Memory)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestMemoryDefaultsSurviveExplicitZero(t *testing.T) {
	t.Parallel()
	zero := 0
	c := &Config{Version: CurrentVersion, Memory: Memory{HalfLifeDays: &zero}}
	c.applyDefaults()
	if *c.Memory.HalfLifeDays != 0 {
		t.Fatalf("halfLifeDays = %d after defaults, want the explicit 0", *c.Memory.HalfLifeDays)
	}
	cp := c.clone()
	*cp.Memory.HalfLifeDays = 7
	if *c.Memory.HalfLifeDays != 0 {
		t.Fatal("clone shares halfLifeDays with the original")
	}
}

func TestONNXModelPath(t *testing.T) {
	t.Parallel()
	m := Memory{ONNXModel: "minilm/model.onnx"}
	if got, want := m.ONNXModelPath("/state"), filepath.Join("/state", "models", "minilm", "model.onnx"); got != want {
		t.Errorf("relative: %q, want %q", got, want)
	}
	m.ONNXModel = "/opt/m/model.onnx"
	if got := m.ONNXModelPath("/state"); got != "/opt/m/model.onnx" {
		t.Errorf("absolute: %q", got)
	}
}
