// Package agent owns agents (identity, workspace, system prompt) and the run
// loop that turns one user message into model calls, tool calls and a reply.
package agent

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/genos-project/genos/core/durable"
	"github.com/genos-project/genos/core/tools"
	"github.com/genos-project/genos/core/vault"
)

// Info is what agent.json holds for one agent.
type Info struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Workspace string    `json:"workspace"` // relative to the state dir
	CreatedAt time.Time `json:"createdAt"`
}

var idPattern = regexp.MustCompile(`^[0-9a-f]{8}$`)

// ValidID reports whether s is an agent id (8 lowercase hex characters).
func ValidID(s string) bool { return idPattern.MatchString(s) }

// LoadOrCreate returns the agent called name under stateDir, creating its
// agent.json, workspace and workspace templates (AGENTS.md, SOUL.md,
// USER.md) on first use. Agents are found by scanning agents/*/agent.json
// so that renaming never moves files.
//
// With s set, what it creates is sealed at rest; agent.json files are read
// whether sealed or plaintext (an install from before the vault), and a
// sealed one met while the vault is locked fails with an error wrapping
// vault.ErrLocked. With s nil everything stays plaintext.
func LoadOrCreate(stateDir, name string, s tools.Sealer) (Info, error) {
	agentsDir := filepath.Join(stateDir, "agents")
	entries, err := os.ReadDir(agentsDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Info{}, fmt.Errorf("list agents: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || !ValidID(e.Name()) {
			continue
		}
		info, err := readInfo(filepath.Join(agentsDir, e.Name(), "agent.json"), s)
		if errors.Is(err, fs.ErrNotExist) {
			continue // left by an interrupted creation before it was renamed in (older layouts)
		}
		if err != nil {
			return Info{}, err
		}
		if info.Name == name {
			if err := os.MkdirAll(filepath.Join(stateDir, info.Workspace), 0o700); err != nil {
				return Info{}, fmt.Errorf("create workspace: %w", err)
			}
			return info, nil
		}
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Info{}, fmt.Errorf("new agent id: %w", err)
	}
	info := Info{
		ID:        hex.EncodeToString(b[:]),
		Name:      name,
		Workspace: filepath.Join("workspace", name),
		CreatedAt: time.Now().UTC(),
	}
	if err := os.MkdirAll(filepath.Join(stateDir, info.Workspace), 0o700); err != nil {
		return Info{}, fmt.Errorf("create workspace: %w", err)
	}
	if err := writeTemplates(filepath.Join(stateDir, info.Workspace), s); err != nil {
		return Info{}, err
	}
	// The agent dir is assembled under a temporary name and renamed into
	// place, so a crash never leaves an agent dir without its agent.json.
	if err := os.MkdirAll(agentsDir, 0o700); err != nil {
		return Info{}, fmt.Errorf("create agents dir: %w", err)
	}
	tmp, err := os.MkdirTemp(agentsDir, ".new-")
	if err != nil {
		return Info{}, fmt.Errorf("create agent dir: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := os.Mkdir(filepath.Join(tmp, "sessions"), 0o700); err != nil {
		return Info{}, fmt.Errorf("create agent dir: %w", err)
	}
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return Info{}, err
	}
	if data, err = sealIf(s, append(data, '\n')); err != nil {
		return Info{}, fmt.Errorf("seal agent.json: %w", err)
	}
	if err := durable.WriteFile(filepath.Join(tmp, "agent.json"), data, 0o600); err != nil {
		return Info{}, fmt.Errorf("write agent.json: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(agentsDir, info.ID)); err != nil {
		return Info{}, fmt.Errorf("create agent dir: %w", err)
	}
	if err := durable.SyncDir(agentsDir); err != nil {
		return Info{}, fmt.Errorf("create agent dir: %w", err)
	}
	return info, nil
}

func readInfo(path string, s tools.Sealer) (Info, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Info{}, fmt.Errorf("read %s: %w", path, err)
	}
	if data, err = openIf(s, data); err != nil {
		return Info{}, fmt.Errorf("read %s: %w", path, err)
	}
	var info Info
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&info); err != nil {
		return Info{}, fmt.Errorf("parse %s: %w", path, err)
	}
	if !ValidID(info.ID) || filepath.Base(filepath.Dir(path)) != info.ID {
		return Info{}, fmt.Errorf("parse %s: id %q does not match its directory", path, info.ID)
	}
	if info.Name == "" || info.Workspace == "" || filepath.IsAbs(info.Workspace) || !filepath.IsLocal(info.Workspace) {
		return Info{}, fmt.Errorf("parse %s: name and a relative workspace inside the state dir are required", path)
	}
	return info, nil
}

// errNoSealer reports a sealed file met without a sealer to open it.
var errNoSealer = errors.New("sealed by the vault, and no vault was given to open it")

// sealIf seals plaintext with s, or returns it as it is when s is nil.
func sealIf(s tools.Sealer, plaintext []byte) ([]byte, error) {
	if s == nil {
		return plaintext, nil
	}
	return s.SealFile(plaintext)
}

// openIf opens data with s when it is sealed and returns plaintext data as
// it is, so state written before the vault existed stays readable.
func openIf(s tools.Sealer, data []byte) ([]byte, error) {
	if !vault.IsSealed(data) {
		return data, nil
	}
	if s == nil {
		return nil, errNoSealer
	}
	return s.OpenFile(data)
}
