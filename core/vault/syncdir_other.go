//go:build !windows

package vault

import (
	"errors"
	"fmt"
	"os"
)

// syncDir fsyncs a directory so that a rename or create inside it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	if err := errors.Join(d.Sync(), d.Close()); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}
