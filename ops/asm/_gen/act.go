package main

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/ops/asm/_gen/cephes"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The activation kernels (sigmoid, tanh and the fused LSTM cell) follow
// the scalar Go reference of ../act_generic.go: Cephes' expf (range
// reduction by ln 2, degree-5 polynomial) and tanhf (an odd polynomial
// below 0.625, 1 - 2/(e^2|x| + 1) above), eight lanes at a time. The
// divisions are VDIVPS: a reciprocal estimate refined by a Newton step
// is shorter in latency, but its extra 1e-7 of relative error shows in
// GRU states that are small differences of larger terms. Each
// constant is stored eight times in actConsts so that it can be an
// operand of a 256-bit instruction; the tail of n mod 8 elements is read
// and written through VMASKMOVPS.

const actArgs1 = "func(n int, x *float32, y *float32)"

// actConst names the entries of actConsts, in order.
var actConstList = []struct {
	name string
	bits uint32
}{
	{"expHi", math.Float32bits(88.3762626647949)},
	{"expLo", math.Float32bits(-88.3762626647949)},
	{"log2e", math.Float32bits(cephes.Log2e)},
	{"half", math.Float32bits(0.5)},
	{"ln2Hi", math.Float32bits(cephes.Ln2Hi)},
	{"ln2Lo", math.Float32bits(cephes.Ln2Lo)},
	{"expP0", math.Float32bits(cephes.ExpP[0])},
	{"expP1", math.Float32bits(cephes.ExpP[1])},
	{"expP2", math.Float32bits(cephes.ExpP[2])},
	{"expP3", math.Float32bits(cephes.ExpP[3])},
	{"expP4", math.Float32bits(cephes.ExpP[4])},
	{"expP5", math.Float32bits(cephes.ExpP[5])},
	{"one", math.Float32bits(1)},
	{"two", math.Float32bits(2)},
	{"bias127", 127},
	{"sign", 0x80000000},
	{"abs", 0x7fffffff},
	{"tanhSmall", math.Float32bits(cephes.TanhSmall)},
	{"tanhQ0", math.Float32bits(cephes.TanhP[0])},
	{"tanhQ1", math.Float32bits(cephes.TanhP[1])},
	{"tanhQ2", math.Float32bits(cephes.TanhP[2])},
	{"tanhQ3", math.Float32bits(cephes.TanhP[3])},
	{"tanhQ4", math.Float32bits(cephes.TanhP[4])},
}

var actConsts Mem

// actTables emits actConsts.
func actTables() {
	actConsts = GLOBL("actConsts", RODATA|NOPTR)
	for i, c := range actConstList {
		for l := 0; l < 8; l++ {
			DATA(32*i+4*l, U32(c.bits))
		}
	}
}

// kc returns the 8-lane constant name as a memory operand.
func kc(name string) Mem {
	for i, c := range actConstList {
		if c.name == name {
			return actConsts.Offset(32 * i)
		}
	}
	panic("no constant " + name)
}

// The emitters below work on v independent vectors at once (v = len of
// each register list), one instruction for every vector before the next
// instruction, so that the long dependency chains of exp overlap.
type vecs []VecPhysical

// emitExp sets y = e^x (x is clobbered; t1, t2 are scratch). x is first
// clamped to ±88.376 (a NaN stays NaN), so e^x is finite and the 2^n
// scale a normal float or zero.
func emitExp(x, t1, t2, y vecs) {
	for i := range x {
		VMOVUPS(kc("expHi"), t2[i])
		VMINPS(x[i], t2[i], x[i]) // NaN in x is returned as it is
	}
	for i := range x {
		VMOVUPS(kc("expLo"), t2[i])
		VMAXPS(x[i], t2[i], x[i])
	}
	Comment("n = floor(x*log2(e) + 0.5); x -= n*ln2 in two parts.")
	for i := range x {
		VMOVUPS(kc("log2e"), t1[i])
		VFMADD213PS(kc("half"), x[i], t1[i])
	}
	for i := range x {
		VROUNDPS(U8(1), t1[i], t1[i])
	}
	for i := range x {
		VFNMADD231PS(kc("ln2Hi"), t1[i], x[i])
	}
	for i := range x {
		VFNMADD231PS(kc("ln2Lo"), t1[i], x[i])
	}
	for i := range x {
		VMULPS(x[i], x[i], t2[i])
		VMOVUPS(kc("expP0"), y[i])
	}
	for _, p := range []string{"expP1", "expP2", "expP3", "expP4", "expP5"} {
		for i := range x {
			VFMADD213PS(kc(p), x[i], y[i])
		}
	}
	for i := range x {
		VFMADD213PS(x[i], t2[i], y[i]) // y = y*x² + x
	}
	for i := range x {
		VADDPS(kc("one"), y[i], y[i])
	}
	Comment("y *= 2^n")
	for i := range x {
		VCVTTPS2DQ(t1[i], t1[i])
	}
	for i := range x {
		VPADDD(kc("bias127"), t1[i], t1[i])
	}
	for i := range x {
		VPSLLD(U8(23), t1[i], t1[i])
	}
	for i := range x {
		VMULPS(t1[i], y[i], y[i])
	}
}

// sigmoidPrep turns x into the argument of exp for a sigmoid (-x);
// sigmoidFinish turns y = e^-x into 1/(1+y), using t1.
func sigmoidPrep(x vecs) {
	for i := range x {
		VXORPS(kc("sign"), x[i], x[i])
	}
}

func sigmoidFinish(t1, y vecs) {
	for i := range y {
		VMOVUPS(kc("one"), t1[i])
		VADDPS(t1[i], y[i], y[i])
	}
	for i := range y {
		VDIVPS(y[i], t1[i], y[i])
	}
}

// tanhPrep sets z = |x|, p = the small-|x| result |x| + |x|³·q(x²), and s
// = 2|x|, the argument of exp for the large-|x| result; x is kept.
// tanhFinish turns y = e^2|x| into 1 - 2/(y+1), picks p where |x| <
// 0.625 and copies the sign of x (also that of -0), using t1; z is
// clobbered.
func tanhPrep(x, z, s, p vecs) {
	for i := range x {
		VANDPS(kc("abs"), x[i], z[i])
	}
	Comment("Small |x|: |x| + |x|³·q(x²).")
	for i := range x {
		VMULPS(x[i], x[i], s[i])
		VMOVUPS(kc("tanhQ0"), p[i])
	}
	for _, q := range []string{"tanhQ1", "tanhQ2", "tanhQ3", "tanhQ4"} {
		for i := range x {
			VFMADD213PS(kc(q), s[i], p[i])
		}
	}
	for i := range x {
		VMULPS(s[i], p[i], p[i])
	}
	for i := range x {
		VFMADD213PS(z[i], z[i], p[i])
	}
	for i := range x {
		VADDPS(z[i], z[i], s[i])
	}
}

func tanhFinish(x, z, p, t1, y vecs) {
	Comment("Large |x|: 1 - 2/(e^2|x| + 1).")
	for i := range x {
		VADDPS(kc("one"), y[i], y[i])
	}
	for i := range x {
		VMOVUPS(kc("two"), t1[i])
		VDIVPS(y[i], t1[i], y[i])
	}
	for i := range x {
		VMOVUPS(kc("one"), t1[i])
		VSUBPS(y[i], t1[i], y[i])
	}
	Comment("Pick the small-|x| result where |x| < 0.625, then copy the sign of x.")
	for i := range x {
		VCMPPS(U8(1), kc("tanhSmall"), z[i], z[i])
		VBLENDVPS(z[i], p[i], y[i], y[i])
	}
	for i := range x {
		VANDPS(kc("sign"), x[i], t1[i])
		VORPS(t1[i], y[i], y[i])
	}
}

// actLoop emits the loop of an elementwise kernel over n elements
// (elemLoop), then its return.
func actLoop(name string, n Register, width int, body func(v int, masked bool)) {
	elemLoop(name, n, width, "_ret", body)
	VZEROUPPER()
	RET()
}

// elemLoop emits the loop of an elementwise kernel over n elements:
// body(v, false) handles v vectors of 8 (advancing its pointers), first
// width at a time, then one at a time; body(1, true) the tail through the
// mask in Y15 (masked loads read zeros past n). It ends with the label
// name+end, where the caller's epilogue follows.
func elemLoop(name string, n Register, width int, end string, body func(v int, masked bool)) {
	if width > 1 {
		CMPQ(n, I32(int32(8*width)))
		JL(LabelRef(name + "_one"))
		Label(name + "_wide")
		body(width, false)
		SUBQ(I32(int32(8*width)), n)
		CMPQ(n, I32(int32(8*width)))
		JGE(LabelRef(name + "_wide"))
		Label(name + "_one")
	}
	CMPQ(n, I32(8))
	JL(LabelRef(name + "_tail"))
	Label(name + "_loop")
	body(1, false)
	SUBQ(I32(8), n)
	CMPQ(n, I32(8))
	JGE(LabelRef(name + "_loop"))
	Label(name + "_tail")
	TESTQ(n, n)
	JE(LabelRef(name + end))
	Comment(fmt.Sprintf("Y15 = mask of the last n < 8 elements: %s + 4*(16 - n).", maskTable.Symbol.Name))
	VMOVUPS(Mem{Base: maskAt(n)}, Y15)
	body(1, true)
	Label(name + end)
}

func load(m Mem, dst VecPhysical, masked bool) {
	if masked {
		VMASKMOVPS(m, Y15, dst)
	} else {
		VMOVUPS(m, dst)
	}
}

func store(src VecPhysical, m Mem, masked bool) {
	if masked {
		VMASKMOVPS(src, Y15, m)
	} else {
		VMOVUPS(src, m)
	}
}

// regs returns v registers from Y(first), Y(first+step), ...
func regs(v, first, step int) vecs {
	r := make(vecs, v)
	for i := range r {
		r[i] = ymm(first + i*step)
	}
	return r
}

// unaryAVX2 emits the kernel name, y[i] = f(x[i]) for i < n (y may be
// x), width vectors at a time: f gets the input vectors and rs, where
// rs(j) is the j-th of nregs register lists (the inputs the 0th), and
// returns the output vectors.
func unaryAVX2(name, doc string, width, nregs int, f func(xs vecs, rs func(j int) vecs) vecs) {
	TEXT(name, NOSPLIT, actArgs1)
	Doc(name + " sets y[i] = " + doc + " for i < n; y may be x.")
	n := Load(Param("n"), GP64())
	x := Load(Param("x"), GP64())
	y := Load(Param("y"), GP64())
	actLoop(name, n, width, func(v int, masked bool) {
		rs := func(j int) vecs { return regs(v, j, nregs) }
		xs := rs(0)
		for i := range xs {
			load(Mem{Base: x, Disp: 32 * i}, xs[i], masked)
		}
		ys := f(xs, rs)
		for i := range ys {
			store(ys[i], Mem{Base: y, Disp: 32 * i}, masked)
		}
		if !masked {
			ADDQ(I32(int32(32*v)), x)
			ADDQ(I32(int32(32*v)), y)
		}
	})
}

// sigmoidAVX2 emits sigmoidAVX2: y[i] = 1/(1+e^-x[i]) for i < n, four
// vectors at a time.
func sigmoidAVX2() {
	unaryAVX2("sigmoidAVX2", "1/(1+exp(-x[i]))", 4, 4, func(xs vecs, rs func(int) vecs) vecs {
		t1, t2, ys := rs(1), rs(2), rs(3)
		sigmoidPrep(xs)
		emitExp(xs, t1, t2, ys)
		sigmoidFinish(t1, ys)
		return ys
	})
}

// tanhAVX2 emits tanhAVX2: y[i] = tanh(x[i]) for i < n, two vectors at a
// time.
func tanhAVX2() {
	unaryAVX2("tanhAVX2", "tanh(x[i])", 2, 7, tanhOf)
}

// tanhOf emits tanh of the vectors xs = rs(0), with rs(1)..rs(5) as
// scratch, into rs(6), which it returns.
func tanhOf(xs vecs, rs func(int) vecs) vecs {
	z, s, p, t1, t2, ys := rs(1), rs(2), rs(3), rs(4), rs(5), rs(6)
	tanhPrep(xs, z, s, p)
	emitExp(s, t1, t2, ys)
	tanhFinish(xs, z, p, t1, ys)
	return ys
}

// lstmUpdateAVX2 emits lstmUpdateAVX2, the second half of an LSTM cell:
// with the activated gates i, o, f, g in blocks of n at gates, c = f⊙c +
// i⊙g and h = o⊙tanh(c), two vectors at a time.
func lstmUpdateAVX2() {
	name := "lstmUpdateAVX2"
	TEXT(name, NOSPLIT, "func(n int, gates *float32, c *float32, h *float32)")
	Doc(name+" sets c[j] = f[j]*c[j] + i[j]*g[j] and h[j] = o[j]*tanh(c[j]) for j < n,",
		"where i, o, f and g are the blocks of n values at gates, in that order.")
	n := Load(Param("n"), GP64())
	g := Load(Param("gates"), GP64())
	c := Load(Param("c"), GP64())
	h := Load(Param("h"), GP64())
	stride := GP64()
	MOVQ(n, stride)
	SHLQ(Imm(2), stride)
	stride3 := GP64()
	LEAQ(Mem{Base: stride, Index: stride, Scale: 2}, stride3)
	gate := func(q, disp int) Mem {
		switch q {
		case 0:
			return Mem{Base: g, Disp: disp}
		case 1:
			return Mem{Base: g, Index: stride, Scale: 1, Disp: disp}
		case 2:
			return Mem{Base: g, Index: stride, Scale: 2, Disp: disp}
		}
		return Mem{Base: g, Index: stride3, Scale: 1, Disp: disp}
	}
	actLoop(name, n, 2, func(v int, masked bool) {
		rs := func(j int) vecs { return regs(v, j, 7) }
		xs, t1, t2 := rs(0), rs(4), rs(5)
		for i := range xs {
			load(Mem{Base: c, Disp: 32 * i}, xs[i], masked)
			load(gate(2, 32*i), t1[i], masked)
			VMULPS(t1[i], xs[i], xs[i])
			load(gate(0, 32*i), t1[i], masked)
			load(gate(3, 32*i), t2[i], masked)
			VFMADD231PS(t2[i], t1[i], xs[i])
			store(xs[i], Mem{Base: c, Disp: 32 * i}, masked)
		}
		ys := tanhOf(xs, rs)
		for i := range ys {
			load(gate(1, 32*i), t1[i], masked)
			VMULPS(t1[i], ys[i], ys[i])
			store(ys[i], Mem{Base: h, Disp: 32 * i}, masked)
		}
		if !masked {
			for _, r := range []Register{g, c, h} {
				ADDQ(I32(int32(32*v)), r)
			}
		}
	})
}
