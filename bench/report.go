package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// verdict is how a row compares with its target.
type verdict int

const (
	verdictInfo  verdict = iota // no target: the row is for reading
	verdictPass                 // met its target
	verdictFail                 // missed its target
	verdictError                // could not be measured
)

func (v verdict) String() string {
	switch v {
	case verdictPass:
		return "pass"
	case verdictFail:
		return "**FAIL**"
	case verdictError:
		return "**ERROR**"
	}
	return "—"
}

// row is one line of the results table.
type row struct {
	Name    string
	Value   string
	Target  string // "" when the row has no target
	Verdict verdict
	Command string // what produced the row, so it can be rerun by hand
}

// judge returns pass when ok holds and fail otherwise.
func judge(ok bool) verdict {
	if ok {
		return verdictPass
	}
	return verdictFail
}

// machine describes where the numbers were taken.
type machine struct {
	Date      string
	Uname     string
	CPU       string
	Cores     int
	GoVersion string // toolchain that ran the harness
	Binary    string // the gateway binary: path, Go version and build settings
	LoadStart string
	LoadEnd   string
}

// report is everything the harness prints and writes.
type report struct {
	Machine machine
	Command string
	Elapsed time.Duration
	Rows    []row
	Notes   []string
}

// markdown renders the report as the body of RESULTS.md.
func (r *report) markdown() string {
	var b strings.Builder
	b.WriteString("# Genos gateway benchmarks\n\n")
	b.WriteString("Written by `bench/` (ARCHITECTURE.md section 14). Rerun with `make bench`; do not edit by hand.\n\n")
	m := r.Machine
	fmt.Fprintf(&b, "- Date: %s\n", m.Date)
	fmt.Fprintf(&b, "- Machine: %s; CPU: %s; %d cores\n", m.Uname, m.CPU, m.Cores)
	fmt.Fprintf(&b, "- Go: %s (harness); gateway binary: %s\n", m.GoVersion, m.Binary)
	fmt.Fprintf(&b, "- Load average (1/5/15 min) at start: %s; at end: %s\n", m.LoadStart, m.LoadEnd)
	fmt.Fprintf(&b, "- Command: `%s` (%s in total)\n\n", cell(r.Command), r.Elapsed.Round(time.Second))
	b.WriteString(renderTable(r.Rows))
	if len(r.Notes) > 0 {
		b.WriteString("\nNotes:\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(n, "\n", " "))
		}
	}
	return b.String()
}

// renderTable renders rows as a Markdown table with a fixed column order.
func renderTable(rows []row) string {
	var b strings.Builder
	b.WriteString("| Measurement | Value | Target | Result | Command / parameters |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, r := range rows {
		target := r.Target
		if target == "" {
			target = "—"
		}
		cmd := "—"
		if r.Command != "" {
			cmd = "`" + cell(strings.ReplaceAll(r.Command, "`", "'")) + "`"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", cell(r.Name), cell(r.Value), cell(target), r.Verdict, cmd)
	}
	return b.String()
}

// cell makes s safe inside one Markdown table cell: a pipe would end the
// cell and a line break the row.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\r\n", " ")
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// describeMachine collects the facts for the report header. Anything it
// cannot find is reported as unknown rather than failing the run.
func describeMachine(ctx context.Context, bin string) machine {
	m := machine{
		Date:      time.Now().Format("2006-01-02 15:04:05 MST"),
		Uname:     "unknown",
		CPU:       "unknown",
		Cores:     runtime.NumCPU(),
		GoVersion: runtime.Version(),
		Binary:    describeBinary(bin),
		LoadStart: loadAverage(),
	}
	if out, err := exec.CommandContext(ctx, "uname", "-srm").Output(); err == nil {
		m.Uname = strings.TrimSpace(string(out))
	}
	m.CPU = cpuModel(ctx)
	return m
}

func describeBinary(bin string) string {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return fmt.Sprintf("%s (build info unreadable: %v)", bin, err)
	}
	var settings []string
	for _, s := range info.Settings {
		switch s.Key {
		case "-tags", "CGO_ENABLED", "-ldflags", "vcs.revision", "vcs.modified":
			v := s.Value
			if s.Key == "vcs.revision" && len(v) > 12 {
				v = v[:12]
			}
			settings = append(settings, s.Key+"="+v)
		}
	}
	size := ""
	if st, err := os.Stat(bin); err == nil {
		size = fmt.Sprintf(", %.1f MiB", float64(st.Size())/(1<<20))
	}
	return fmt.Sprintf("%s (%s%s; %s)", bin, info.GoVersion, size, strings.Join(settings, " "))
}

// cpuModel reads the CPU model from /proc/cpuinfo (Linux) or sysctl (macOS).
func cpuModel(ctx context.Context) string {
	if runtime.GOOS == "darwin" {
		out, err := exec.CommandContext(ctx, "sysctl", "-n", "machdep.cpu.brand_string").Output()
		if err == nil {
			return strings.TrimSpace(string(out))
		}
		return "unknown"
	}
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	return parseCPUInfo(data)
}

// parseCPUInfo returns the first "model name" value of /proc/cpuinfo (x86)
// or, failing that, the "Hardware"/"CPU part" style fields ARM kernels use.
func parseCPUInfo(data []byte) string {
	fallback := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "model name":
			return v
		case "Hardware", "Model":
			if fallback == "" {
				fallback = v
			}
		}
	}
	if fallback == "" {
		return "unknown"
	}
	return fallback
}

// loadAverage returns the 1, 5 and 15 minute load averages, so a reader can
// tell a run on a busy machine from a quiet one.
func loadAverage() string {
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(data))
		if len(f) >= 3 {
			return strings.Join(f[:3], " ")
		}
	}
	if out, err := exec.Command("sysctl", "-n", "vm.loadavg").Output(); err == nil {
		return strings.Trim(strings.TrimSpace(string(out)), "{} ")
	}
	return "unknown"
}

// writeFileAtomic replaces path with data: temp file in the same directory,
// fsync, rename, fsync of the directory, so a crash never leaves a torn
// RESULTS.md behind.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
