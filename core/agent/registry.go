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
// agent.json and workspace on first use. Agents are found by scanning
// agents/*/agent.json so that renaming never moves files.
func LoadOrCreate(stateDir, name string) (Info, error) {
	agentsDir := filepath.Join(stateDir, "agents")
	entries, err := os.ReadDir(agentsDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Info{}, fmt.Errorf("list agents: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || !ValidID(e.Name()) {
			continue
		}
		info, err := readInfo(filepath.Join(agentsDir, e.Name(), "agent.json"))
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
	if err := durable.WriteFile(filepath.Join(tmp, "agent.json"), append(data, '\n'), 0o600); err != nil {
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

func readInfo(path string) (Info, error) {
	data, err := os.ReadFile(path)
	if err != nil {
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
