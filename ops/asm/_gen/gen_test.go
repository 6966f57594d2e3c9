package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGenerated fails when ../sgemm_amd64.s, ../sgemm_stubs_amd64.go,
// ../conv_amd64.s, ../convpos_amd64.s or ../sgemm_arm64.s differ from what
// this generator writes now: run `go generate` in ops/asm after changing
// the generator, and commit them.
func TestGenerated(t *testing.T) {
	dir := t.TempDir()
	asmOut, stubsOut := filepath.Join(dir, "sgemm_amd64.s"), filepath.Join(dir, "sgemm_stubs_amd64.go")
	convOut, convPosOut := filepath.Join(dir, "conv_amd64.s"), filepath.Join(dir, "convpos_amd64.s")
	arm64Out := filepath.Join(dir, "sgemm_arm64.s")
	for _, args := range [][]string{
		{"run", ".", "-out", asmOut, "-stubs", stubsOut, "-pkg", "asm"},
		{"run", ".", "-kernels", "conv", "-out", convOut},
		{"run", ".", "-kernels", "convpos", "-out", convPosOut},
		{"run", ".", "-arm64", arm64Out},
	} {
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			t.Fatalf("generator failed: %v\n%s", err, out)
		}
	}
	for _, f := range []struct{ got, committed string }{
		{asmOut, "../sgemm_amd64.s"},
		{stubsOut, "../sgemm_stubs_amd64.go"},
		{convOut, "../conv_amd64.s"},
		{convPosOut, "../convpos_amd64.s"},
		{arm64Out, "../sgemm_arm64.s"},
	} {
		got, err := os.ReadFile(f.got)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(f.committed)
		if err != nil {
			t.Fatal(err)
		}
		// The first line names the command with its output paths.
		if !bytes.Equal(dropFirstLine(got), dropFirstLine(want)) {
			t.Errorf("%s is stale: run `go generate` in ops/asm and commit the result", f.committed)
		}
	}
}

func dropFirstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}
