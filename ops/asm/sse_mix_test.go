package asm

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestNoLegacySSEAfterAVX checks every amd64 assembly file of the
// package for a legacy-SSE instruction (one without the V prefix) on an
// X register after a 256-bit instruction of the same function and before
// its VZEROUPPER. Such an instruction meets dirty upper halves of the Y
// registers, which some CPUs make pay: on the Zen 3 virtual machine of
// the benchmarks one MOVQ BX, X13 after VXORPS Y15 cost about 130 ns per
// call (the whole scan of a Dense layer's input took twice as long).
// The VEX forms (VMOVQ, VMOVD, VMOVSS) cost nothing. Functions are read
// in the order of their lines, macros expanded where they are used.
func TestNoLegacySSEAfterAVX(t *testing.T) {
	files, err := filepath.Glob("*_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no amd64 assembly files")
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range legacySSEAfterAVX(string(src)) {
			t.Errorf("%s: %s", f, bad)
		}
	}
}

// TestLegacySSEAfterAVXFinds checks the checker on small functions.
func TestLegacySSEAfterAVXFinds(t *testing.T) {
	for _, c := range []struct {
		src  string
		want int
	}{
		{"TEXT ·f(SB), 0, $0\n\tMOVSS a+0(FP), X0\n\tVBROADCASTSS X0, Y0\n\tVZEROUPPER\n\tMOVSS X0, r+8(FP)\n\tRET\n", 0},
		{"TEXT ·f(SB), 0, $0\n\tVXORPS Y15, Y15, Y15\n\tMOVQ BX, X13 // here\n\tVZEROUPPER\n\tRET\n", 1},
		{"#define M \\\n\tMOVQ X1, AX \\\n\tADDQ AX, BX\n\nTEXT ·f(SB), 0, $0\n\tVPXOR Y1, Y1, Y1\n\tM\n\tVZEROUPPER\n\tRET\n", 1},
		{"TEXT ·f(SB), 0, $0\n\tVPXOR Y1, Y1, Y1\n\tVZEROUPPER\n\tRET\nTEXT ·g(SB), 0, $0\n\tMOVQ X1, AX\n\tRET\n", 0},
	} {
		if got := legacySSEAfterAVX(c.src); len(got) != c.want {
			t.Errorf("%q: found %q, want %d", c.src, got, c.want)
		}
	}
}

var (
	yReg = regexp.MustCompile(`\bY\d+\b`)
	xReg = regexp.MustCompile(`\bX\d+\b`)
)

// legacySSEAfterAVX returns the instructions of src (Go amd64 assembly)
// that TestNoLegacySSEAfterAVX rejects, each with its function.
func legacySSEAfterAVX(src string) []string {
	macros := map[string][]string{}
	var bad []string
	fn, dirty := "", false
	macro, more := "", false // the macro being defined; whether its next line is too
	for _, line := range strings.Split(src, "\n") {
		code := strings.TrimSpace(strings.SplitN(line, "//", 2)[0])
		cont := strings.HasSuffix(code, "\\")
		code = strings.TrimSpace(strings.TrimSuffix(code, "\\"))
		if strings.HasPrefix(code, "#define") {
			f := strings.Fields(code)
			macro, more = f[1], cont
			macros[macro] = nil
			if len(f) > 2 {
				macros[macro] = append(macros[macro], strings.Join(f[2:], " "))
			}
			continue
		}
		if more {
			if code != "" {
				macros[macro] = append(macros[macro], code)
			}
			more = cont
			continue
		}
		if strings.HasPrefix(code, "TEXT") {
			fn, dirty = strings.TrimSuffix(strings.Fields(code)[1], ","), false
			continue
		}
		if code == "" || strings.HasSuffix(code, ":") || strings.HasPrefix(code, "#") {
			continue
		}
		insts := []string{code}
		if body, ok := macros[strings.Fields(code)[0]]; ok {
			insts = body
		}
		for _, in := range insts {
			op := strings.Fields(in)[0]
			switch {
			case op == "VZEROUPPER":
				dirty = false
			case strings.HasPrefix(op, "V") && yReg.MatchString(in):
				dirty = true
			case dirty && !strings.HasPrefix(op, "V") && xReg.MatchString(in):
				bad = append(bad, fn+": "+in)
			}
		}
	}
	return bad
}
