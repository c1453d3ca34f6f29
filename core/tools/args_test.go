package tools

import (
	"strings"
	"testing"
)

func TestStrictArgs(t *testing.T) {
	t.Parallel()
	ws := newWorkspace(t)
	writeFile(t, ws+"/f.txt", "x\n")
	tests := []struct {
		tool, args, want string
	}{
		{"read", `{"path":"f.txt","foo":1}`, `invalid arguments for read: unknown field "foo"; allowed fields: path, offset, limit`},
		{"read", `{"path":`, `invalid arguments for read: not valid JSON`},
		{"read", `{"path":"f.txt"}}`, `invalid arguments for read: unexpected data after the arguments object`},
		{"read", `{"path":"f.txt"} {"path":"g"}`, `invalid arguments for read: unexpected data after the arguments object`},
		{"read", `{"path":"f.txt","offset":"2"}`, `invalid arguments for read: field "offset" must be an integer, got string`},
		{"read", `{"path":"f.txt","offset":1.5}`, `field "offset" must be an integer, got number 1.5`},
		{"read", `["f.txt"]`, `invalid arguments for read: expected a JSON object, got array; allowed fields: path, offset, limit`},
		{"read", `"f.txt"`, `expected a JSON object, got string`},
		{"write", `{"path":"a","content":"x","mode":"0644"}`, `unknown field "mode"; allowed fields: path, content`},
		{"write", `{"path":"a","content":5}`, `field "content" must be a string, got number`},
		{"edit", `{"path":"f.txt","old":"x","new":"y"}`, `unknown field "old"; allowed fields: path, oldText, newText, replaceAll`},
		{"edit", `{"path":"f.txt","oldText":"x","newText":"y","replaceAll":"yes"}`, `field "replaceAll" must be a boolean, got string`},
		{"ls", `{"dir":"."}`, `unknown field "dir"; allowed fields: path`},
		{"exec", `{"cmd":"ls"}`, `unknown field "cmd"; allowed fields: command, cwd, timeoutSeconds`},
		{"exec", `{"command":"ls","timeoutSeconds":"5"}`, `field "timeoutSeconds" must be an integer, got string`},
	}
	for _, tt := range tests {
		t.Run(tt.tool+" "+tt.args, func(t *testing.T) {
			t.Parallel()
			res := call(t, ws, tt.tool, tt.args)
			if !res.IsError || !strings.Contains(res.Content, tt.want) {
				t.Errorf("%s(%s) = %+v, want error containing %q", tt.tool, tt.args, res, tt.want)
			}
		})
	}
}

func TestEmptyArgsMeanEmptyObject(t *testing.T) {
	t.Parallel()
	var a lsArgs
	for _, raw := range []string{"", "  ", "null", "{}"} {
		if msg := decodeArgs("ls", []byte(raw), &a); msg != "" {
			t.Errorf("decodeArgs(%q) = %q, want success", raw, msg)
		}
	}
}
