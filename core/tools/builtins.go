package tools

import "time"

// BuiltinOptions tunes the built-in tools. Zero values select the defaults.
type BuiltinOptions struct {
	// ExecTimeout is how long exec lets a command run when the model does
	// not ask for another limit (default 60s).
	ExecTimeout time.Duration
	// ExecMaxOutput caps the combined output exec returns, in bytes
	// (default 64 KiB).
	ExecMaxOutput int
	// ReadMaxBytes caps what one read call returns (default 256 KiB).
	ReadMaxBytes int
	// Shell runs exec commands as `Shell -c command` (default /bin/sh).
	Shell string
	// HiddenEnv names more environment variables exec must not pass on,
	// such as the one the config reads the model API key from, whatever it
	// is called.
	HiddenEnv []string
	// Sealer, when set, seals workspace files at rest: write and edit store
	// them sealed, read and edit open them. Plaintext files already in the
	// workspace stay readable. Nil keeps files in plaintext, as before a
	// vault exists.
	Sealer Sealer
}

func (o BuiltinOptions) withDefaults() BuiltinOptions {
	if o.ExecTimeout <= 0 {
		o.ExecTimeout = 60 * time.Second
	}
	if o.ExecMaxOutput <= 0 {
		o.ExecMaxOutput = 64 << 10
	}
	if o.ReadMaxBytes <= 0 {
		o.ReadMaxBytes = 256 << 10
	}
	if o.Shell == "" {
		o.Shell = "/bin/sh"
	}
	return o
}

// Builtins returns the built-in tools: read, write, edit, ls and exec. All
// of them work inside Env.Workspace; pass them to NewRegistry.
func Builtins(o BuiltinOptions) []Tool {
	o = o.withDefaults()
	return []Tool{
		readTool(o.ReadMaxBytes, o.Sealer),
		writeTool(o.Sealer),
		editTool(o.Sealer),
		lsTool(),
		execTool(o),
	}
}
