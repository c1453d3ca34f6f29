package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrNoConfig is wrapped by Load's error when the config file does not
// exist: the caller starts onboarding instead of failing.
var ErrNoConfig = errors.New("no config file")

// maxFileSize bounds what Load reads; a real config is a few hundred bytes.
const maxFileSize = 1 << 20

// Load reads the config at path: strict decode (unknown, duplicate or
// miscased keys, wrong types and trailing data are errors that name the field
// and line), migrations from the file's version to CurrentVersion, defaults
// for zero fields, then Validate. A missing file returns an error wrapping
// ErrNoConfig; a file from a newer Genos is refused rather than half-read.
func Load(path string) (*Config, error) { return LoadSealed(path, nil) }

// readLimited reads a whole file, refusing one larger than limit.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}

// parse is Load without the file: it turns config bytes into a valid Config.
func parse(data []byte) (*Config, error) {
	loc := locator(data)
	v, err := decodeSyntax(data, loc)
	if err != nil {
		return nil, err
	}
	raw, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("must be a JSON object")
	}
	version, err := rawVersion(raw)
	if err != nil {
		return nil, err
	}
	switch {
	case version > CurrentVersion:
		return nil, fmt.Errorf("version %d is newer than this Genos understands (%d); upgrade Genos or restore an older config", version, CurrentVersion)
	case version < CurrentVersion:
		// Report duplicates where the user can find them; the rest is checked
		// on the migrated form, whose positions mean nothing to the user.
		if err := checkFields(data, nil, loc); err != nil {
			return nil, err
		}
		if err := migrate(raw, version, CurrentVersion, migrations); err != nil {
			return nil, err
		}
		if data, err = json.MarshalIndent(raw, "", "  "); err != nil {
			return nil, fmt.Errorf("re-encode migrated config: %w", err)
		}
		loc = nil
	}
	var c Config
	if err := decodeStrict(data, &c, loc); err != nil {
		if version < CurrentVersion {
			return nil, fmt.Errorf("after migrating from version %d: %w", version, err)
		}
		return nil, err
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// rawVersion reads "version" from an undecoded config. A file without one
// predates versioning and is version 0.
func rawVersion(raw map[string]any) (int, error) {
	v, ok := raw["version"]
	if !ok {
		return 0, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("version: expected an integer, got %s", jsonKind(v))
	}
	i, err := n.Int64()
	if err != nil || i < 0 || i > 1<<20 {
		return 0, fmt.Errorf("version: expected a small non-negative integer, got %s", n)
	}
	return int(i), nil
}

// jsonKind names the JSON type of a value decoded into any.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// Save validates c and writes it to path atomically with mode 0600. On any
// error the file on disk is unchanged.
func Save(path string, c *Config) error { return SaveSealed(path, c, nil) }

// encode renders c as the file's bytes: indented, newline-terminated and
// without HTML escaping, so URLs stay readable.
func encode(c *Config) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
