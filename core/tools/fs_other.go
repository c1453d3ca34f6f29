//go:build !unix

package tools

import "os"

// syncDir is a no-op where directories cannot be opened and fsynced (Windows
// returns an error for it); renames there are made durable by the file
// system's own journaling.
func syncDir(root *os.Root, dir string) error { return nil }
