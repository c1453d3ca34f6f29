package vault

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/genos-project/genos/core/durable"
)

// writeAtomic replaces path with data (mode 0600) so that a crash leaves
// either the old or the new file, never a mix.
func writeAtomic(path string, data []byte) error {
	return durable.WriteFile(path, data, 0o600)
}

// createExclusive is writeAtomic that refuses to replace an existing file
// (ErrExists).
func createExclusive(path string, data []byte) error {
	err := durable.CreateExclusive(path, data, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s: %w", path, ErrExists)
	}
	return err
}
