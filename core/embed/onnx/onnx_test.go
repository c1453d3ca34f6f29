package onnx

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func touchFile(t *testing.T, path string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	model := touchFile(t, filepath.Join(dir, "model.onnx"))
	touchFile(t, filepath.Join(dir, "vocab.txt"))
	lib := touchFile(t, filepath.Join(dir, "libonnxruntime.so.1"))
	t.Setenv(LibraryEnv, lib)

	s, err := resolve(Options{ModelPath: model})
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	want := settings{model: model, vocab: filepath.Join(dir, "vocab.txt"), library: lib, maxTokens: 256, lowercase: true, batch: 16}
	if d := cmp.Diff(want, s, cmp.AllowUnexported(settings{})); d != "" {
		t.Errorf("defaults (-want +got):\n%s", d)
	}

	tests := []struct {
		name string
		o    Options
		want []string
	}{
		{"no model", Options{}, []string{"model path is required"}},
		{"missing files", Options{ModelPath: filepath.Join(dir, "nope.onnx"), VocabPath: filepath.Join(dir, "nope.txt"),
			LibraryPath: filepath.Join(dir, "nope.so")},
			[]string{"model " + filepath.Join(dir, "nope.onnx") + " does not exist", "vocab " + filepath.Join(dir, "nope.txt"),
				"packaging/fetch-onnxruntime.sh", LibraryEnv}},
		{"directory as model", Options{ModelPath: dir}, []string{"is not a regular file"}},
		{"bad numbers", Options{ModelPath: model, MaxTokens: 1, BatchSize: -1, Threads: -2},
			[]string{"max tokens 1", "batch size -1", "threads -2"}},
		{"too many tokens", Options{ModelPath: model, MaxTokens: maxMaxTokens + 1}, []string{"max tokens"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := resolve(tc.o)
			if err == nil {
				t.Fatal("resolve succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestDefaultLibraryPath(t *testing.T) {
	name := "libonnxruntime.so.1"
	if runtime.GOOS == "darwin" {
		name = "libonnxruntime.dylib"
	}
	tests := []struct {
		name, xdg, home, want string
	}{
		{"xdg", "/x/cache", "/home/u", "/x/cache/genos/onnxruntime/" + RuntimeVersion + "/" + name},
		{"home", "", "/home/u", "/home/u/.cache/genos/onnxruntime/" + RuntimeVersion + "/" + name},
		{"relative xdg ignored", "rel", "/home/u", "/home/u/.cache/genos/onnxruntime/" + RuntimeVersion + "/" + name},
		{"nothing", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("XDG_CACHE_HOME", tc.xdg)
			t.Setenv("HOME", tc.home)
			if got := DefaultLibraryPath(); got != filepath.FromSlash(tc.want) {
				t.Errorf("DefaultLibraryPath() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPoolingMath(t *testing.T) {
	t.Parallel()
	hidden := []float32{1, 2, 3, 4, 100, 100}
	got, err := meanPool(hidden, []int64{1, 1, 0}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]float64{2, 3}, got); d != "" {
		t.Errorf("meanPool (-want +got):\n%s", d)
	}
	if _, err := meanPool(hidden, []int64{0, 0, 0}, 2); err == nil {
		t.Error("meanPool with an all-zero mask succeeded")
	}
	u, err := normalize([]float64{3, 4})
	if err != nil || math.Abs(float64(u[0])-0.6) > 1e-7 || math.Abs(float64(u[1])-0.8) > 1e-7 {
		t.Errorf("normalize([3 4]) = %v, %v", u, err)
	}
	for _, bad := range [][]float64{{0, 0}, {math.NaN(), 1}, {math.Inf(1), 0}} {
		if _, err := normalize(bad); err == nil {
			t.Errorf("normalize(%v) succeeded", bad)
		}
	}
	if err := checkTexts([]string{"a", "\t"}); err == nil {
		t.Error("checkTexts accepted a blank text")
	}
}

func TestModelIDDependsOnEverything(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "model.onnx")
	vocab := filepath.Join(dir, "vocab.txt")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(model, "m1")
	write(vocab, "v1")
	base := settings{model: model, vocab: vocab, maxTokens: 256, lowercase: true}
	id := func(s settings) string {
		got, err := modelID(s)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	first := id(base)
	if !strings.HasPrefix(first, "onnx/model.onnx@") {
		t.Errorf("modelID = %q", first)
	}
	other := base
	other.maxTokens = 128
	cased := base
	cased.lowercase = false
	ids := map[string]bool{first: true, id(other): true, id(cased): true}
	write(vocab, "v2")
	ids[id(base)] = true
	write(model, "m2")
	ids[id(base)] = true
	if len(ids) != 5 {
		t.Errorf("model ids are not all distinct: %v", ids)
	}
}
