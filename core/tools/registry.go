package tools

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// namePattern is the tool name shape both OpenAI and Anthropic accept.
var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// Registry is an immutable set of tools keyed by name. It is safe for
// concurrent use because nothing changes after NewRegistry returns.
type Registry struct {
	byName map[string]Tool
	sorted []Tool
}

// NewRegistry validates ts and returns a registry holding them. It rejects
// invalid or duplicate names, schemas that are not a JSON object schema,
// unknown categories and tools without a Run function, reporting every
// problem at once.
func NewRegistry(ts ...Tool) (*Registry, error) {
	r := &Registry{byName: make(map[string]Tool, len(ts))}
	var errs []error
	for i, t := range ts {
		if err := validateTool(t); err != nil {
			errs = append(errs, fmt.Errorf("tool %d (%q): %w", i, t.Name, err))
			continue
		}
		if _, dup := r.byName[t.Name]; dup {
			errs = append(errs, fmt.Errorf("tool %d: duplicate name %q", i, t.Name))
			continue
		}
		// Copy the schema so a caller mutating its slice cannot change
		// what the registry advertises.
		t.Schema = bytes.Clone(t.Schema)
		r.byName[t.Name] = t
		r.sorted = append(r.sorted, t)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("new tool registry: %w", errors.Join(errs...))
	}
	slices.SortFunc(r.sorted, func(a, b Tool) int { return strings.Compare(a.Name, b.Name) })
	return r, nil
}

func validateTool(t Tool) error {
	var errs []error
	if !namePattern.MatchString(t.Name) {
		errs = append(errs, fmt.Errorf("name must match %s", namePattern))
	}
	if !t.Category.Valid() {
		errs = append(errs, fmt.Errorf("unknown category %q", t.Category))
	}
	if t.Run == nil {
		errs = append(errs, errors.New("run function is nil"))
	}
	if err := validateSchema(t.Schema); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// validateSchema checks that s is a JSON object declaring "type": "object",
// which is what model providers require for function parameters.
func validateSchema(s json.RawMessage) error {
	if len(bytes.TrimSpace(s)) == 0 {
		return errors.New("schema is empty")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(s, &obj); err != nil {
		return fmt.Errorf("schema is not a JSON object: %w", err)
	}
	var typ string
	if err := json.Unmarshal(obj["type"], &typ); err != nil || typ != "object" {
		return errors.New(`schema must declare "type": "object"`)
	}
	return nil
}

// Get returns the tool called name.
func (r *Registry) Get(name string) (Tool, bool) {
	t, ok := r.byName[name]
	return t, ok
}

// List returns every tool sorted by name. The slice is a fresh copy.
func (r *Registry) List() []Tool {
	return slices.Clone(r.sorted)
}
