package agent

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/genos-project/genos/core/durable"
	"github.com/genos-project/genos/core/tools"
)

// templateFS holds the starting content of a new agent's prompt files.
//
//go:embed templates/*.md
var templateFS embed.FS

// writeTemplates gives a new workspace its prompt files, sealed with s when
// set. A file that already exists (the workspace outlived an earlier agent
// of that name, or a crash cut creation short) is kept: it may hold the
// user's edits.
func writeTemplates(workspace string, s tools.Sealer) error {
	for _, name := range promptFiles {
		data, err := templateFS.ReadFile("templates/" + name)
		if err != nil {
			return fmt.Errorf("read template %s: %w", name, err)
		}
		if data, err = sealIf(s, data); err != nil {
			return fmt.Errorf("seal %s: %w", name, err)
		}
		err = durable.CreateExclusive(filepath.Join(workspace, name), data, 0o600)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}
