package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/genos-project/genos"

// listDeps returns, for every package of the module, its transitive
// dependencies (go list -deps semantics, test files excluded).
func listDeps(t *testing.T, env ...string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "./...")
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	deps := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		deps[fields[0]] = fields[1:]
	}
	return deps
}

func rel(pkg string) string {
	if pkg == module {
		return "."
	}
	return strings.TrimPrefix(pkg, module+"/")
}

func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// TestDependencyRules enforces ARCHITECTURE.md section 2: imports point down.
func TestDependencyRules(t *testing.T) {
	deps := listDeps(t)
	if len(deps) < 5 {
		t.Fatalf("go list found only %d packages; is the module root right?", len(deps))
	}
	for pkg, ds := range deps {
		p := rel(pkg)
		for _, d := range ds {
			external := !strings.HasPrefix(d, module+"/") && d != module
			dp := rel(d)
			switch {
			case under(p, "core"):
				if strings.HasPrefix(d, "fyne.io/") {
					t.Errorf("%s depends on %s: core/ must not use Fyne", p, d)
				}
				if !external && (under(dp, "app") || under(dp, "channels") || under(dp, "voice") || dp == ".") {
					t.Errorf("%s depends on %s: core/ must not import app/, channels/ or voice/", p, dp)
				}
			case under(p, "channels"), under(p, "voice"):
				if external {
					continue
				}
				own := "channels"
				if under(p, "voice") {
					own = "voice"
				}
				switch {
				case dp == "core/chat":
				case dp == own:
				case under(dp, "core"):
					t.Errorf("%s depends on %s: adapters may import only core/chat from core", p, dp)
				case under(dp, own) && under(p, own+"/") && !under(dp, p) && !under(p, dp):
					t.Errorf("%s depends on %s: adapters must not import each other", p, dp)
				case !under(dp, own):
					t.Errorf("%s depends on %s: %s/ must not import it", p, dp, own)
				}
			case under(p, "app"):
				if external {
					continue
				}
				if under(dp, "core") && dp != "core/api" && dp != "core/chat" {
					t.Errorf("%s depends on %s: app/ may use only core/api and core/chat", p, dp)
				}
				if under(dp, "channels") || under(dp, "voice") {
					t.Errorf("%s depends on %s: app/ must not import adapters", p, dp)
				}
			}
		}
	}
}

// TestCoreBuildsWithoutCgo checks that core/ needs no C toolchain on Linux.
func TestCoreBuildsWithoutCgo(t *testing.T) {
	cmd := exec.Command("go", "build", "./core/...")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build ./core/... failed: %v\n%s", err, out)
	}
}
