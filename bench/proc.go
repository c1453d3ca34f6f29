package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// procMem is a process's memory as the OS reports it, in bytes. Peak is 0
// where the OS does not say.
type procMem struct {
	RSS, Peak int64
	Threads   int
}

// readProcMem reads VmRSS and VmHWM from /proc/<pid>/status on Linux and
// asks ps elsewhere (macOS reports RSS in KiB through `ps -o rss=`).
func readProcMem(ctx context.Context, pid int) (procMem, error) {
	if runtime.GOOS == "linux" {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return procMem{}, fmt.Errorf("read process status: %w", err)
		}
		return parseProcStatus(data)
	}
	out, err := exec.CommandContext(ctx, "ps", "-o", "rss=", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		return procMem{}, fmt.Errorf("ps -o rss= -p %d: %w", pid, err)
	}
	kib, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return procMem{}, fmt.Errorf("ps -o rss= -p %d: unexpected output %q", pid, truncate(string(out), 40))
	}
	return procMem{RSS: kib << 10}, nil
}

// parseProcStatus extracts VmRSS, VmHWM and Threads from the text of
// /proc/<pid>/status ("VmRSS:\t   12345 kB").
func parseProcStatus(data []byte) (procMem, error) {
	var m procMem
	var sawRSS bool
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		switch k {
		case "VmRSS", "VmHWM":
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil || n < 0 || (len(f) > 1 && f[1] != "kB") {
				return procMem{}, fmt.Errorf("unexpected %s line %q", k, truncate(sc.Text(), 60))
			}
			if k == "VmRSS" {
				m.RSS, sawRSS = n<<10, true
			} else {
				m.Peak = n << 10
			}
		case "Threads":
			n, err := strconv.Atoi(f[0])
			if err == nil {
				m.Threads = n
			}
		}
	}
	if !sawRSS {
		return procMem{}, errors.New("process status has no VmRSS line")
	}
	return m, nil
}

// countFDs returns the number of open file descriptors of pid, or -1 where
// /proc is not available.
func countFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// countTimeWait returns how many TCP sockets to remotePort are in TIME_WAIT
// (Linux /proc/net/tcp; -1 elsewhere). Sockets the gateway closed towards the
// model server end up here, so a large count means it is not reusing its
// model connections.
func countTimeWait(remotePort int) int {
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return -1
	}
	return parseTimeWait(data, remotePort)
}

// parseTimeWait counts /proc/net/tcp rows in state 06 (TIME_WAIT) whose
// remote port is port. The address columns are HEXIP:HEXPORT.
func parseTimeWait(data []byte, port int) int {
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[3] != "06" {
			continue
		}
		_, hexPort, ok := strings.Cut(f[2], ":")
		if !ok {
			continue
		}
		p, err := strconv.ParseUint(hexPort, 16, 16)
		if err == nil && int(p) == port {
			n++
		}
	}
	return n
}

// userHZ is the unit of the CPU times in /proc/<pid>/stat, fixed at 100 on
// Linux whatever the kernel's internal tick rate.
const userHZ = 100

// readCPUTime returns the user plus system CPU time pid has used (Linux;
// -1 elsewhere). pid 0 means this process.
func readCPUTime(pid int) time.Duration {
	path := "/proc/self/stat"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/stat", pid)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	d, err := parseProcStatCPU(data)
	if err != nil {
		return -1
	}
	return d
}

// parseProcStatCPU extracts utime+stime from /proc/<pid>/stat. The command
// name in parentheses may contain spaces, so fields are counted from the
// last ')'.
func parseProcStatCPU(data []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("process stat has no command name")
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("process stat is too short")
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("process stat has a bad CPU time %q", truncate(s, 20))
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}
