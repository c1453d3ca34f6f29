package tools

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// wsTarget is a path resolved inside an open workspace root.
type wsTarget struct {
	root *os.Root
	rel  string // symlink-free at resolution time, relative to the root
	// display is the path as the model wrote it, for messages.
	display string
}

// openTarget validates env.Workspace, resolves p inside it and opens the
// workspace as an os.Root. A non-empty msg is a tool-level failure for the
// model (the path escapes, a component is unreadable); err is an internal
// failure (the workspace itself is missing). The caller closes t.root.
func openTarget(env Env, p string) (t wsTarget, msg string, err error) {
	ws, err := workspaceRoot(env.Workspace)
	if err != nil {
		return wsTarget{}, "", err
	}
	rel, rerr := resolveIn(ws, p)
	if rerr != nil {
		return wsTarget{}, rerr.Error(), nil
	}
	if env.NoPrivate && privatePath(rel) {
		return wsTarget{}, fmt.Sprintf("%q is part of the owner's private memory and cannot be opened in this conversation.", p), nil
	}
	// All access goes through os.Root: even if a symlink is swapped in
	// between resolveIn and the operation, the kernel-assisted lookup
	// refuses to leave the workspace.
	root, err := os.OpenRoot(ws.real)
	if err != nil {
		return wsTarget{}, "", fmt.Errorf("open workspace: %w", err)
	}
	return wsTarget{root: root, rel: rel, display: p}, "", nil
}

// privatePath reports whether rel (workspace-relative, symlink-free) is
// one of the memory notes or their directory. Case is ignored, as it is by
// the file systems of macOS and Windows.
func privatePath(rel string) bool {
	first, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
	return strings.EqualFold(first, "MEMORY.md") || strings.EqualFold(first, "memory")
}

// fsMessage turns an error from an os.Root operation into a message for the
// model, without the host path of the workspace.
func fsMessage(display string, err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("path %q does not exist", display)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Sprintf("permission denied for %q", display)
	case isRootEscape(err):
		return (&EscapeError{Path: display, Symlink: true}).Error()
	default:
		return fmt.Sprintf("%q: %v", display, stripPathError(err))
	}
}

// isRootEscape reports whether err is os.Root refusing a path that leaves
// the root. The os package has no exported sentinel for it, so compare the
// (stable) message of the underlying error.
func isRootEscape(err error) bool {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		err = le.Err
	}
	return err != nil && err.Error() == "path escapes from parent"
}

// writeAtomic replaces rel inside root with data: a temp file in the same
// directory is written, fsynced and renamed over the target, then the
// directory is fsynced, so a crash leaves either the old or the new file and
// never a torn one. perm applies to new files; existing files keep their mode.
func writeAtomic(root *os.Root, rel string, data []byte, perm fs.FileMode) (err error) {
	keepMode := false
	if fi, serr := root.Stat(rel); serr == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", rel)
		}
		perm, keepMode = fi.Mode().Perm(), true
	}
	dir := filepath.Dir(rel)
	tmp := filepath.Join(dir, ".genos-tmp-"+randomHex(6))
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("create temp file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = root.Remove(tmp)
		}
	}()
	if keepMode {
		// OpenFile applied the umask; restore the exact mode of the file
		// being replaced.
		if err = f.Chmod(perm); err != nil {
			return fmt.Errorf("chmod temp file: %w", err)
		}
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write temp file: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync temp file: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close temp file: %w", err)
	}
	if err = root.Rename(tmp, rel); err != nil {
		return fmt.Errorf("rename temp file: %w", err)
	}
	if err := syncDir(root, dir); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
