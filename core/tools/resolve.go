package tools

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrOutsideWorkspace matches (with errors.Is) every error saying that a path
// leaves the workspace, lexically or through a symlink.
var ErrOutsideWorkspace = errors.New("path is outside the workspace")

// EscapeError reports a path that leaves the workspace. Its message is
// written for the model.
type EscapeError struct {
	// Path is the path as the caller gave it.
	Path string
	// Symlink is set when the path itself is inside but resolving a symlink
	// on the way leads outside.
	Symlink bool
}

// Error returns the message shown to the model.
func (e *EscapeError) Error() string {
	if e.Symlink {
		return fmt.Sprintf("path %q resolves through a symlink outside the workspace", e.Path)
	}
	return fmt.Sprintf("path %q is outside the workspace", e.Path)
}

// Is makes errors.Is(err, ErrOutsideWorkspace) true for every EscapeError.
func (e *EscapeError) Is(target error) bool { return target == ErrOutsideWorkspace }

// maxSymlinks bounds symlink expansion so a loop cannot hang resolution; it is
// the limit Linux applies to a single lookup (MAXSYMLINKS).
const maxSymlinks = 40

// Resolve reports where p lands inside workspace. It returns the path
// relative to the workspace's real (symlink-free) location with every symlink
// already expanded, or an error wrapping ErrOutsideWorkspace when p is
// outside: an absolute path elsewhere, a ".." escape, or a symlink (absolute
// or relative, possibly through a chain of them) whose target is outside.
// Absolute paths inside the workspace are accepted. Components that do not
// exist yet are kept as written, so Resolve also answers for files about to
// be created. Other code (approvals, exec analysis) uses it to ask whether a
// path is inside; the file tools additionally open everything through
// os.Root so a symlink swapped in after the check still cannot escape.
func Resolve(workspace, p string) (rel string, err error) {
	ws, err := workspaceRoot(workspace)
	if err != nil {
		return "", err
	}
	return resolveIn(ws, p)
}

// wsPaths holds a workspace as configured and as resolved on disk.
type wsPaths struct {
	clean string // filepath.Clean of the configured path
	real  string // the same directory with symlinks resolved
}

// workspaceRoot validates the configured workspace directory.
func workspaceRoot(workspace string) (wsPaths, error) {
	if workspace == "" || !filepath.IsAbs(workspace) {
		return wsPaths{}, fmt.Errorf("workspace %q is not an absolute path", workspace)
	}
	clean := filepath.Clean(workspace)
	real, err := filepath.EvalSymlinks(clean)
	if err != nil {
		return wsPaths{}, fmt.Errorf("resolve workspace: %w", err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return wsPaths{}, fmt.Errorf("stat workspace: %w", err)
	}
	if !fi.IsDir() {
		return wsPaths{}, fmt.Errorf("workspace %q is not a directory", workspace)
	}
	return wsPaths{clean: clean, real: real}, nil
}

// within returns t relative to base when t is base or below it.
func within(base, t string) (string, bool) {
	r, err := filepath.Rel(base, t)
	if err != nil || !filepath.IsLocal(r) {
		return "", false
	}
	return r, true
}

// lexicalRel turns p into a clean path relative to the workspace without
// touching the disk.
func lexicalRel(ws wsPaths, p string) (string, error) {
	if p == "" {
		return "", errors.New("path is empty")
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", fmt.Errorf("path %q contains a NUL byte", p)
	}
	if filepath.IsAbs(p) {
		c := filepath.Clean(p)
		for _, base := range []string{ws.clean, ws.real} {
			if r, ok := within(base, c); ok {
				return r, nil
			}
		}
		return "", &EscapeError{Path: p}
	}
	c := filepath.Clean(p)
	if !filepath.IsLocal(c) {
		return "", &EscapeError{Path: p}
	}
	return c, nil
}

// resolveIn expands every symlink along p inside ws, refusing any step that
// leaves it. It walks component by component instead of using
// filepath.EvalSymlinks because it must also handle paths whose tail does
// not exist yet and dangling links (a write through them would create the
// target), and because it needs to know whether an intermediate step left
// the workspace even when a later one comes back.
func resolveIn(ws wsPaths, p string) (string, error) {
	start, err := lexicalRel(ws, p)
	if err != nil {
		return "", err
	}
	cur := "" // symlink-free, relative to ws.real; "" is the workspace itself
	todo := splitPath(start)
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			// The start path is clean and local, so ".." can only come
			// from a symlink target here.
			if cur == "" {
				return "", &EscapeError{Path: p, Symlink: true}
			}
			cur = parentRel(cur)
			continue
		}
		next := filepath.Join(cur, c)
		fi, err := os.Lstat(filepath.Join(ws.real, next))
		if errors.Is(err, fs.ErrNotExist) {
			cur = next
			continue
		}
		if err != nil {
			return "", fmt.Errorf("path %q: %w", p, stripPathError(err))
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > maxSymlinks {
			return "", fmt.Errorf("path %q: too many levels of symbolic links", p)
		}
		target, err := os.Readlink(filepath.Join(ws.real, next))
		if err != nil {
			return "", fmt.Errorf("path %q: %w", p, stripPathError(err))
		}
		if filepath.IsAbs(target) {
			t := filepath.Clean(target)
			r, ok := within(ws.real, t)
			if !ok {
				r, ok = within(ws.clean, t)
			}
			if !ok {
				return "", &EscapeError{Path: p, Symlink: true}
			}
			cur = ""
			todo = append(splitPath(r), todo...)
			continue
		}
		// A relative target is resolved from the directory holding the link.
		todo = append(splitPath(target), todo...)
	}
	if cur == "" {
		return ".", nil
	}
	return cur, nil
}

func splitPath(p string) []string {
	return strings.Split(filepath.ToSlash(p), "/")
}

func parentRel(p string) string {
	d := filepath.Dir(p)
	if d == "." {
		return ""
	}
	return d
}

// stripPathError drops the absolute path from fs errors so messages for the
// model do not leak where the workspace lives on the host.
func stripPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
