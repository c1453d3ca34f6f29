package tools

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func fakeTool(name string) Tool {
	return Tool{
		Name:        name,
		Description: "test tool " + name,
		Schema:      json.RawMessage(`{"type":"object","properties":{}}`),
		Category:    CategoryRead,
		Run: func(context.Context, Env, json.RawMessage) (Result, error) {
			return Result{Content: name}, nil
		},
	}
}

func toolNames(ts []Tool) []string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return names
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	r, err := NewRegistry(fakeTool("zeta"), fakeTool("alpha"), fakeTool("mid_2"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"alpha", "mid_2", "zeta"}, toolNames(r.List())); diff != "" {
		t.Errorf("List order (-want +got):\n%s", diff)
	}
	got, ok := r.Get("mid_2")
	if !ok || got.Name != "mid_2" {
		t.Fatalf("Get(mid_2) = %v, %v", got.Name, ok)
	}
	if res, _ := got.Run(context.Background(), Env{}, nil); res.Content != "mid_2" {
		t.Errorf("Run returned %q", res.Content)
	}
	if _, ok := r.Get("missing"); ok {
		t.Errorf("Get(missing) found a tool")
	}
	// List hands out a copy.
	l := r.List()
	l[0].Name = "changed"
	if r.List()[0].Name != "alpha" {
		t.Errorf("mutating List's result changed the registry")
	}
}

func TestRegistryCopiesSchema(t *testing.T) {
	t.Parallel()
	tl := fakeTool("a")
	r, err := NewRegistry(tl)
	if err != nil {
		t.Fatal(err)
	}
	tl.Schema[0] = 'X'
	if got, _ := r.Get("a"); got.Schema[0] != '{' {
		t.Errorf("registry schema aliased the caller's slice")
	}
}

func TestRegistryRejects(t *testing.T) {
	t.Parallel()
	with := func(f func(*Tool)) Tool {
		tl := fakeTool("ok")
		f(&tl)
		return tl
	}
	tests := []struct {
		name  string
		tools []Tool
		want  string
	}{
		{"duplicate", []Tool{fakeTool("a"), fakeTool("a")}, `duplicate name "a"`},
		{"empty name", []Tool{fakeTool("")}, "name must match"},
		{"uppercase name", []Tool{fakeTool("Read")}, "name must match"},
		{"leading digit", []Tool{fakeTool("1read")}, "name must match"},
		{"dash", []Tool{fakeTool("web-fetch")}, "name must match"},
		{"too long", []Tool{fakeTool("a" + strings.Repeat("b", 64))}, "name must match"},
		{"unknown category", []Tool{with(func(t *Tool) { t.Category = "admin" })}, `unknown category "admin"`},
		{"empty category", []Tool{with(func(t *Tool) { t.Category = "" })}, `unknown category ""`},
		{"nil run", []Tool{with(func(t *Tool) { t.Run = nil })}, "run function is nil"},
		{"empty schema", []Tool{with(func(t *Tool) { t.Schema = nil })}, "schema is empty"},
		{"schema not JSON", []Tool{with(func(t *Tool) { t.Schema = json.RawMessage(`{"type":`) })}, "schema is not a JSON object"},
		{"schema array", []Tool{with(func(t *Tool) { t.Schema = json.RawMessage(`[]`) })}, "schema is not a JSON object"},
		{"schema not object type", []Tool{with(func(t *Tool) { t.Schema = json.RawMessage(`{"type":"string"}`) })}, `"type": "object"`},
		{"schema without type", []Tool{with(func(t *Tool) { t.Schema = json.RawMessage(`{"properties":{}}`) })}, `"type": "object"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := NewRegistry(tt.tools...)
			if err == nil || r != nil {
				t.Fatalf("NewRegistry succeeded, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestRegistryReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := NewRegistry(fakeTool("Bad"), fakeTool("ok"), fakeTool("ok"))
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{`"Bad"`, `duplicate name "ok"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %q, want it to mention %s", err, want)
		}
	}
}

func TestBuiltinsRegister(t *testing.T) {
	t.Parallel()
	r, err := NewRegistry(Builtins(BuiltinOptions{})...)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Category{"edit": CategoryWrite, "exec": CategoryExec, "ls": CategoryRead, "read": CategoryRead, "write": CategoryWrite}
	got := map[string]Category{}
	for _, tl := range r.List() {
		got[tl.Name] = tl.Category
		if tl.Description == "" {
			t.Errorf("%s has no description", tl.Name)
		}
		var schema struct {
			AdditionalProperties *bool `json:"additionalProperties"`
		}
		if err := json.Unmarshal(tl.Schema, &schema); err != nil || schema.AdditionalProperties == nil || *schema.AdditionalProperties {
			t.Errorf("%s schema does not forbid additional properties", tl.Name)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("builtins (-want +got):\n%s", diff)
	}
}

func TestCategoryValid(t *testing.T) {
	t.Parallel()
	for _, c := range []Category{"read", "write", "exec", "network", "messaging", "config", "memory", "sessions"} {
		if !c.Valid() {
			t.Errorf("%q.Valid() = false", c)
		}
	}
	for _, c := range []Category{"", "READ", "admin"} {
		if c.Valid() {
			t.Errorf("%q.Valid() = true", c)
		}
	}
}
