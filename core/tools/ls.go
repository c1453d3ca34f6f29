package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// lsMaxEntries caps a listing so one huge directory cannot flood the context.
const lsMaxEntries = 1000

type lsArgs struct {
	Path string `json:"path"`
}

func lsTool() Tool {
	return Tool{
		Name: "ls",
		Description: "List a workspace directory. Each line is: type (file, dir, symlink, other), size in bytes " +
			"(files only, '-' otherwise) and name; symlinks show their target. Sorted by name, " +
			fmt.Sprintf("at most %d entries.", lsMaxEntries),
		Schema: json.RawMessage(`{"type":"object","properties":{` +
			`"path":{"type":"string","description":"Directory, relative to the workspace or absolute inside it (default: the workspace itself)."}` +
			`},"additionalProperties":false}`),
		Category: CategoryRead,
		Run: func(ctx context.Context, env Env, raw json.RawMessage) (Result, error) {
			var a lsArgs
			if msg := decodeArgs("ls", raw, &a); msg != "" {
				return Result{Content: msg, IsError: true}, nil
			}
			if a.Path == "" {
				a.Path = "."
			}
			return runLs(env, a)
		},
	}
}

func runLs(env Env, a lsArgs) (Result, error) {
	t, msg, err := openTarget(env, a.Path)
	if err != nil || msg != "" {
		return Result{Content: msg, IsError: true}, err
	}
	defer t.root.Close()
	fi, err := t.root.Stat(t.rel)
	if err != nil {
		return Result{Content: fsMessage(t.display, err), IsError: true}, nil
	}
	if !fi.IsDir() {
		return errorResult("%q is not a directory; use read for files", t.display), nil
	}
	d, err := t.root.Open(t.rel)
	if err != nil {
		return Result{Content: fsMessage(t.display, err), IsError: true}, nil
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return Result{Content: fsMessage(t.display, err), IsError: true}, nil
	}
	if len(entries) == 0 {
		return Result{Content: "(empty directory)"}, nil
	}
	// File.ReadDir returns directory order; sort for stable output.
	slices.SortFunc(entries, func(x, y fs.DirEntry) int { return strings.Compare(x.Name(), y.Name()) })
	total := len(entries)
	entries = entries[:min(total, lsMaxEntries)]

	var b strings.Builder
	for _, e := range entries {
		typ, size, name := "other", "-", e.Name()
		switch m := e.Type(); {
		case m.IsDir():
			typ, name = "dir", name+"/"
		case m&fs.ModeSymlink != 0:
			typ = "symlink"
			if target, err := t.root.Readlink(filepath.Join(t.rel, e.Name())); err == nil {
				name += " -> " + target
			}
		case m.IsRegular():
			typ = "file"
			// The size on disk: for a sealed file that of its envelope,
			// about 4/3 of the plaintext plus a fixed overhead. It reveals
			// roughly how long the plaintext is, which ls has always shown.
			if info, err := e.Info(); err == nil {
				size = strconv.FormatInt(info.Size(), 10)
			}
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\n", typ, size, name)
	}
	if total > lsMaxEntries {
		fmt.Fprintf(&b, "[showing the first %d of %d entries]\n", lsMaxEntries, total)
	}
	return Result{Content: strings.TrimSuffix(b.String(), "\n")}, nil
}
