package ops

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/ops/asm"
	"github.com/onyxrt/onyx/tensor"
)

// This file holds the matrix-product operators: Gemm, MatMul and
// MatMulInteger. Float32 products go through sgemmJob (gemm_par.go), with
// a constant B packed once at Build time; the other types through gemmT
// (asm.Dgemm for float64, plain loops for integers). FusedGemm, the Gemm
// with an activation that graph passes make, is in gemm_fused.go.

func registerGemm(r *Registry) {
	for _, v := range []int{1, 6, 7, 9, 11, 13} {
		r.Register(&Def{Name: "Gemm", Since: v, Build: buildGemm})
	}
	for _, v := range []int{1, 9, 13} {
		r.Register(&Def{Name: "MatMul", Since: v, Build: buildMatMul})
	}
	r.Register(&Def{Name: "MatMulInteger", Since: 10, Build: buildMatMulInteger, Infer: inferMatMulInteger})
	registerFusedGemm(r)
}

// gemmT computes C = alpha*op(A)*op(B) + beta*C (C unread when beta is 0)
// for any numeric element type: the packed asm kernels for float32 and
// float64, a plain loop for integers (which wrap around on overflow).
func gemmT[T Number](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	switch av := any(a).(type) {
	case []float32:
		asm.Sgemm(transA, transB, m, n, k, float32(alpha), av, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
		return
	case []float64:
		asm.Dgemm(transA, transB, m, n, k, float64(alpha), av, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
		return
	}
	acc := make([]T, n)
	for i := 0; i < m; i++ {
		clear(acc)
		for p := 0; p < k; p++ {
			var x T
			if transA {
				x = a[p*lda+i]
			} else {
				x = a[i*lda+p]
			}
			if x == 0 {
				continue // integers: no NaN to propagate
			}
			if transB {
				for j := range acc {
					acc[j] += x * b[j*ldb+p]
				}
			} else {
				for j, y := range b[p*ldb : p*ldb+n] {
					acc[j] += x * y
				}
			}
		}
		crow := c[i*ldc : i*ldc+n]
		for j, v := range acc {
			if beta == 0 {
				crow[j] = alpha * v
			} else {
				crow[j] = alpha*v + beta*crow[j]
			}
		}
	}
}

// ---- Gemm ----

// gemmNode is one Gemm or FusedGemm node: its attributes, and op(B)
// packed at Build time when B is a float32 constant.
type gemmNode struct {
	op             string
	alpha, beta    float32
	transA, transB bool
	// flatA: A may have any rank (FusedGemm with transA = 0): it is read
	// as a matrix of its leading dimensions by its last one, and Y has
	// A's leading dimensions and N.
	flatA  bool
	act    *gemmAct // FusedGemm's activation, or nil
	constB *tensor.Tensor
	packed *asm.PackedB
	skip   *asm.SkipB // packed for skipping zero columns of A (gemm_skip.go)
	// epi, when set, is the float32 epilogue (beta*C and the
	// activation) made at Build time for the constant C constC (nil:
	// the node has no C) and n = epiN columns; see buildEpilogue.
	epi    asm.Epilogue
	constC *tensor.Tensor
	epiN   int
	// fastC: runFast applies (epi is set, or the node has neither C nor
	// an activation).
	fastC bool
	// epiRow, epiLo, epiHi and epiPost are what epi applies: the row of
	// beta*C, the clamp and the activation after it (nil: none).
	epiRow       []float32
	epiLo, epiHi float32
	epiPost      *gemmAct
}

// epiWhole is the number of output elements (16 KiB of them) up to which
// runFast applies the epilogue after the product rather than tile by
// tile.
const epiWhole = 4096

// packMaxFloats bounds the constant B that Gemm and MatMul pack once at
// build: the packed copy sits beside the constant, which the program
// keeps, so a larger B (AlexNet's and VGG's first fully connected layers,
// 150 and 400 MB) is read as stored, packed block by block per run (at
// one row, a matrix-vector product that streams it once either way),
// instead of doubling the model's memory.
const packMaxFloats = 8 << 20

// epiAll applies g.epi to all of c, the rows×n output (n = g.epiN),
// without the offsets of a block.
func (g *gemmNode) epiAll(c []float32, rows, n int) {
	asm.GemmBiasClamp(rows, n, c, n, g.epiRow, 0, g.epiLo, g.epiHi)
	if g.epiPost != nil {
		for i := 0; i < rows; i++ {
			g.epiPost.apply32(c[i*n : i*n+n])
		}
	}
}

func buildGemm(b *Builder) (Kernel, error) { return buildGemmNode(b, false) }

// buildGemmNode builds Gemm (fused false) or FusedGemm.
func buildGemmNode(b *Builder, fused bool) (Kernel, error) {
	g := &gemmNode{
		op:     b.OpType,
		alpha:  b.Float("alpha", 1),
		beta:   b.Float("beta", 1),
		transA: b.Int("transA", 0) != 0,
		transB: b.Int("transB", 0) != 0,
	}
	if !fused {
		b.Int("broadcast", 0) // opsets 1 and 6; C is always broadcast
	}
	var err error
	if fused {
		if g.act, err = readGemmAct(b); err != nil {
			return nil, err
		}
		g.flatA = !g.transA
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	if !fused && b.Opset < 11 && !b.In(2) {
		return nil, fmt.Errorf("input C is required before opset 11")
	}
	if B := b.ConstInput(1); B != nil && B.DType() == tensor.Float32 && B.Rank() == 2 && B.Len() <= packMaxFloats {
		k, n := B.Shape()[0], B.Shape()[1]
		if g.transB {
			k, n = n, k
		}
		g.constB, g.packed = B, asm.PackB(g.transB, k, n, B.Float32s(), B.Shape()[1])
		g.skip = asm.NewSkipB(g.packed)
		g.buildEpilogue(b, n)
		g.fastC = g.epi != nil && rowC(g.constC, n) || !b.In(2) && g.act == nil
		slow := halfWrap(g.run)
		return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if y, ok, err := g.runFast(rc, in); ok {
				if err != nil {
					return nil, err
				}
				return rc.Results(y), nil
			}
			return slow(rc, in)
		}), nil
	}
	return halfWrap(g.run), nil
}

// rowC reports whether C is nil or a float32 constant that is one row of
// n columns, or one value ([], [1], [n], [1 1] or [1 n]): a C that
// broadcasts to any number of rows, which run would accept whatever A.
func rowC(C *tensor.Tensor, n int) bool {
	if C == nil {
		return true
	}
	cs := C.Shape()
	if C.DType() != tensor.Float32 || len(cs) > 2 || len(cs) == 2 && cs[0] != 1 {
		return false
	}
	return C.Len() == 1 || len(cs) > 0 && cs[len(cs)-1] == n
}

// oneRowPacked is the smallest one-row product (n·k) that runFast
// multiplies on the packed constant, which streams in order and is the
// one the zero steps are skipped on; below, B sits in L1 and the direct
// call costs less (asm's rowMinWork is the same size).
const oneRowPacked = 8192

// runFast is the float32 product on the constant B with a 2-D A and C
// the constant that g.epi adds (or no C and no activation): the common
// Dense layer, without the general checks of run, which it gives bit for
// bit. ok is false when the inputs are not that case (run then takes
// them).
func (g *gemmNode) runFast(rc *RunContext, in []*tensor.Tensor) (y *tensor.Tensor, ok bool, err error) {
	if !g.fastC || len(in) < 2 || len(in) > 3 {
		return nil, false, nil
	}
	A, B := in[0], in[1]
	if B != g.constB || A == nil || A.DType() != tensor.Float32 || A.Rank() != 2 || Opt(in, 2) != g.constC {
		return nil, false, nil
	}
	as := A.Shape()
	m, k := as[0], as[1]
	if g.transA {
		m, k = k, m
	}
	n := g.packed.N()
	if k != g.packed.K() || g.epi != nil && n != g.epiN {
		return nil, false, nil
	}
	if y, err = rc.NewUninit(tensor.Float32, m, n); err != nil {
		return nil, true, err
	}
	j := sgemmJob{
		transA: g.transA, transB: g.transB, m: m, n: n, k: k, alpha: g.alpha,
		a: A.Float32s(), lda: as[1], b: B.Float32s(), ldb: B.Shape()[1], pb: g.packed,
		c: y.Float32s()[: m*n : m*n], ldc: n, epi: g.epi,
	}
	if m == 1 && n > 0 {
		// One row: its zero steps skipped when there are enough of them
		// (a sample at a time), else what sgemmJob.block does for one
		// row, on a wide row split by columns, each thread streaming its
		// own part of B (MobileNetV2's classifier reads 5 MB of weights
		// per run).
		if n*k < oneRowPacked {
			// B in L1: straight to the kernel on B as stored, which
			// the packed constant would give bit for bit (the Keras
			// dense example runs 15% faster without the detour).
			asm.Sgemm(g.transA, g.transB, 1, n, k, g.alpha, j.a, j.lda, j.b, j.ldb, 0, j.c, n)
			if g.epi != nil {
				g.epiAll(j.c, 1, n)
			}
		} else if g.runSkip(&j) {
			// Zero steps of the row skipped (gemm_skip.go).
		} else if threads := rc.threads(); threads <= 1 || !j.splitSmallM(rc.workers(), threads) {
			j.block(0, 1, 0, n, j.pb)
		}
	} else if m > 0 && n > 0 {
		if threads := rc.threads(); threads > 1 && m*n*max(k, 1) >= 2*gemmThreadWork {
			j.workers = rc.workers()
			j.run(threads)
		} else if g.runSkip(&j) {
			// Zero columns of A skipped (gemm_skip.go).
		} else if threads > 1 && j.splitSmallM(rc.workers(), threads) {
			// A few rows split by columns (gemm_par.go).
		} else if j.epi != nil && m*n <= epiWhole {
			// A small output stays in cache: the epilogue in one pass
			// after the product costs less than one call per tile, and
			// acts on each element alone, so gives the same values.
			j.epi = nil
			j.block(0, m, 0, n, j.pb)
			g.epiAll(j.c, m, n)
		} else {
			j.block(0, m, 0, n, j.pb) // what run does on one thread
		}
	}
	return y, true, nil
}

// buildEpilogue makes g.epi, the epilogue of a float32 product with n
// columns, when C is absent or a constant that is the same for every row
// (shape [], [1], [n], [1 1] or [1 n]) and the activation has a form
// asm.GemmBiasClamp computes as the operators do: beta*C is laid out as
// one row at Build time, so a run adds it without allocating anything
// (a closure made per run would be one heap allocation per node).
func (g *gemmNode) buildEpilogue(b *Builder, n int) {
	inf := float32(math.Inf(1))
	lo, hi := -inf, inf
	post := g.act // applied after the clamp, row by row
	if a := g.act; a != nil {
		switch a.kind {
		case "Relu":
			lo, post = 0, nil
		case "Clip":
			// A hi of -0 is the one bound whose min differs from Go's.
			if a.lo != a.lo || a.hi != a.hi || a.hi == 0 && math.Signbit(float64(a.hi)) {
				return
			}
			lo, hi, post = a.lo, a.hi, nil
		}
	}
	var row []float32
	C := b.ConstInput(2)
	switch {
	case C == nil && b.In(2):
		return // C is computed at run time
	case C == nil || g.beta == 0:
		if g.act == nil {
			return // nothing to do
		}
		row = asm.NegZeros(n) // adds nothing
	default:
		if C.DType() != tensor.Float32 || C.Rank() > 2 || C.Rank() == 2 && C.Shape()[0] != 1 {
			return
		}
		cd := C.Float32s()
		row = make([]float32, n)
		switch len(cd) {
		case 1:
			v := g.beta * cd[0]
			for j := range row {
				row[j] = v
			}
		case n:
			for j := range row {
				row[j] = g.beta * cd[j]
			}
		default:
			return // does not broadcast: the run reports it
		}
	}
	g.constC, g.epiN = C, n
	g.epiRow, g.epiLo, g.epiHi, g.epiPost = row, lo, hi, post
	g.epi = func(c []float32, ldc, i0, j0, rows, cols int) {
		// c is a tail of the product's output, whose capacity ends with
		// its last element (runFloat32), so its column offset in the
		// output is what its capacity lacks of a whole number of rows.
		bj := (ldc - cap(c)%ldc) % ldc
		c = c[i0*ldc+j0:]
		asm.GemmBiasClamp(rows, cols, c, ldc, row[bj+j0:], 0, lo, hi)
		if post != nil {
			for i := 0; i < rows; i++ {
				post.apply32(c[i*ldc : i*ldc+cols])
			}
		}
	}
}

func (g *gemmNode) run(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := Need(in, 2); err != nil {
		return nil, err
	}
	A, B, C := in[0], in[1], Opt(in, 2)
	if err := checkDType(g.op, A, floatIntTypes...); err != nil {
		return nil, err
	}
	if err := sameDType(g.op, A, B, C); err != nil {
		return nil, err
	}
	var m, ka int
	var outShape []int // Y's shape when A is not 2-D (FusedGemm)
	var shapeBuf [8]int
	switch {
	case g.flatA && A.Rank() >= 1 && A.Rank() != 2 && B.Rank() == 2:
		as := A.Shape()
		ka = as[len(as)-1]
		m = prod(as[:len(as)-1])
		outShape = append(append(shapeBuf[:0], as[:len(as)-1]...), 0)
	case A.Rank() == 2 && B.Rank() == 2:
		m, ka = A.Shape()[0], A.Shape()[1]
		if g.transA {
			m, ka = ka, m
		}
	default:
		return nil, fmt.Errorf("A and B must be 2-D, got shapes %v and %v", A.Shape(), B.Shape())
	}
	kb, n := B.Shape()[0], B.Shape()[1]
	if g.transB {
		kb, n = n, kb
	}
	if outShape != nil {
		outShape[len(outShape)-1] = n
	}
	if ka != kb {
		return nil, fmt.Errorf("inner dimensions differ: op(A) is %d×%d, op(B) is %d×%d", m, ka, kb, n)
	}
	if C != nil {
		if C.Rank() > 2 {
			return nil, fmt.Errorf("C must have rank at most 2, got shape %v", C.Shape())
		}
		if !broadcastsTo2D(C.Shape(), m, n) {
			return nil, fmt.Errorf("C of shape %v does not broadcast to %d×%d", C.Shape(), m, n)
		}
	}
	if g.act != nil && !g.act.appliesTo(A.DType()) {
		return nil, fmt.Errorf("activation %s does not apply to %v", g.act.kind, A.DType())
	}
	var y *tensor.Tensor
	var err error
	switch A.DType() {
	case tensor.Float32:
		shape := outShape
		if shape == nil {
			shape = append(shapeBuf[:0], m, n)
		}
		y, err = g.runFloat32(rc, A, B, C, m, n, ka, shape)
		outShape = nil // y has it
	case tensor.Float64:
		y, err = gemmOp[float64](rc.threads(), A, B, C, g.transA, g.transB, m, n, ka, g.alpha, g.beta)
	case tensor.Int32:
		y, err = gemmOp[int32](rc.threads(), A, B, C, g.transA, g.transB, m, n, ka, g.alpha, g.beta)
	case tensor.Int64:
		y, err = gemmOp[int64](rc.threads(), A, B, C, g.transA, g.transB, m, n, ka, g.alpha, g.beta)
	case tensor.Uint32:
		y, err = gemmOp[uint32](rc.threads(), A, B, C, g.transA, g.transB, m, n, ka, g.alpha, g.beta)
	case tensor.Uint64:
		y, err = gemmOp[uint64](rc.threads(), A, B, C, g.transA, g.transB, m, n, ka, g.alpha, g.beta)
	default:
		return nil, ErrDType(g.op, A.DType())
	}
	if err != nil {
		return nil, err
	}
	if A.DType() != tensor.Float32 && g.act != nil {
		applyGemmActAny(g.act, y)
	}
	if outShape != nil {
		if y, err = y.Reshape(outShape...); err != nil {
			return nil, err
		}
	}
	return rc.Results(y), nil
}

// broadcastsTo2D reports whether a tensor of shape cs (rank at most 2)
// broadcasts to m×n.
func broadcastsTo2D(cs []int, m, n int) bool {
	want := [2]int{m, n}
	for i, d := range cs {
		if w := want[2-len(cs)+i]; d != 1 && d != w {
			return false
		}
	}
	return true
}

// runFloat32 is the float32 product: Y = alpha*op(A)*op(B) with op(B)
// packed at Build time when it is the constant, then beta*C added and the
// activation applied to each tile while it is in cache. Adding C after
// the product (rather than accumulating onto it) makes Gemm(A, B, bias)
// give bit for bit what MatMul(A, B) followed by Add(bias) gives, which
// the MatMul+Add fusion relies on.
func (g *gemmNode) runFloat32(rc *RunContext, A, B, C *tensor.Tensor, m, n, k int, shape []int) (*tensor.Tensor, error) {
	y, err := rc.NewUninit(tensor.Float32, shape...)
	if err != nil {
		return nil, err
	}
	j := sgemmJob{
		transA: g.transA, transB: g.transB, m: m, n: n, k: k, alpha: g.alpha,
		// c's capacity ends with its last element, which g.epi relies on.
		a: A.Float32s(), lda: A.Shape()[A.Rank()-1], b: B.Float32s(), ldb: B.Shape()[1], c: y.Float32s()[: m*n : m*n], ldc: n,
	}
	if B == g.constB {
		j.pb = g.packed
	}
	switch {
	case g.epi != nil && C == g.constC && n == g.epiN:
		j.epi = g.epi
	case C != nil && g.beta != 0 || g.act != nil:
		j.epi = gemmEpilogue(j.c, C, g.beta, g.act)
	}
	j.workers = rc.workers()
	j.run(rc.threads())
	return y, nil
}

// gemmEpilogue returns the epilogue of the product into y that adds
// beta*C (C nil: none, else of a shape that broadcasts to y's) and
// applies act (nil: none). A block of a split product passes a tail of y
// (see sgemmJob), whose offset in y locates it.
func gemmEpilogue(y []float32, C *tensor.Tensor, beta float32, act *gemmAct) asm.Epilogue {
	var cd []float32
	rowsC, colsC := 1, 1
	if C != nil && beta != 0 {
		cd = C.Float32s()
		switch cs := C.Shape(); len(cs) {
		case 1:
			colsC = cs[0]
		case 2:
			rowsC, colsC = cs[0], cs[1]
		}
	}
	return func(c []float32, ldc, i0, j0, rows, cols int) {
		off := cap(y) - cap(c) // c is y[off:]
		bi, bj := off/ldc, off%ldc
		for i := i0; i < i0+rows; i++ {
			row := c[i*ldc+j0 : i*ldc+j0+cols]
			if cd != nil {
				cr := cd[((bi+i)%rowsC)*colsC:]
				if colsC == 1 {
					v := float32(beta * cr[0])
					for j := range row {
						row[j] += v
					}
				} else {
					cr = cr[bj+j0 : bj+j0+cols]
					for j := range row {
						// Rounded before the sum (no fused multiply-add),
						// as the constant C's row of buildEpilogue is.
						row[j] += float32(beta * cr[j])
					}
				}
			}
			if act != nil {
				act.apply32(row)
			}
		}
	}
}

// gemmOp is Gemm for float64 and the integer types: C broadcast into Y,
// then gemmPar onto it.
func gemmOp[T Number](threads int, A, B, C *tensor.Tensor, transA, transB bool, m, n, k int, alpha, beta float32) (*tensor.Tensor, error) {
	y, err := tensor.New(A.DType(), m, n)
	if err != nil {
		return nil, err
	}
	yd := tensor.Data[T](y)
	bt := T(beta)
	if C != nil && beta != 0 {
		copy(yd, broadcastTo(tensor.Data[T](C), C.Shape(), []int{m, n}))
	} else {
		bt = 0
	}
	lda, ldb := A.Shape()[A.Rank()-1], B.Shape()[1]
	gemmPar(threads, transA, transB, m, n, k, T(alpha), tensor.Data[T](A), lda, tensor.Data[T](B), ldb, bt, yd, n)
	if beta != float32(T(beta)) || alpha != float32(T(alpha)) {
		// A fractional alpha or beta on an integer type: redo the
		// scaling in float64 from the exact product.
		prodT := make([]T, m*n)
		gemmT(transA, transB, m, n, k, 1, tensor.Data[T](A), lda, tensor.Data[T](B), ldb, 0, prodT, n)
		var cb []T
		if C != nil {
			cb = broadcastTo(tensor.Data[T](C), C.Shape(), []int{m, n})
		}
		for i := range yd {
			v := float64(alpha) * float64(prodT[i])
			if cb != nil {
				v += float64(beta) * float64(cb[i])
			}
			yd[i] = T(v)
		}
	}
	return y, nil
}

// ---- MatMul ----

// mmShape is the resolved geometry of a numpy-style matrix product.
type mmShape struct {
	m, k, n    int
	out        []int
	batch      int
	offA, offB []int // per batch entry, element offsets into A and B
	// flat: B has no batch, so A's batch folds into m for one GEMM.
	flat bool
}

func matmulShape(sa, sb []int) (*mmShape, error) {
	if len(sa) == 0 || len(sb) == 0 {
		return nil, fmt.Errorf("inputs must have rank at least 1, got shapes %v and %v", sa, sb)
	}
	a, b := sa, sb
	if len(a) == 1 {
		a = []int{1, a[0]}
	}
	if len(b) == 1 {
		b = []int{b[0], 1}
	}
	s := &mmShape{m: a[len(a)-2], k: a[len(a)-1], n: b[len(b)-1]}
	if b[len(b)-2] != s.k {
		return nil, fmt.Errorf("inner dimensions differ: shapes %v and %v", sa, sb)
	}
	ba, bb := a[:len(a)-2], b[:len(b)-2]
	batch, err := tensor.BroadcastShapes(ba, bb)
	if err != nil {
		return nil, fmt.Errorf("batch dimensions do not broadcast: shapes %v and %v", sa, sb)
	}
	s.batch = prod(batch)
	s.out = append([]int{}, batch...)
	if len(sa) > 1 {
		s.out = append(s.out, s.m)
	}
	if len(sb) > 1 {
		s.out = append(s.out, s.n)
	}
	if prod(bb) == 1 && prod(ba) == s.batch {
		s.flat = true
		return s, nil
	}
	sta := tensor.BroadcastStrides(ba, batch)
	stb := tensor.BroadcastStrides(bb, batch)
	s.offA = make([]int, s.batch)
	s.offB = make([]int, s.batch)
	idx := make([]int, len(batch))
	for i := 0; i < s.batch; i++ {
		oa, ob := 0, 0
		for d, v := range idx {
			oa += v * sta[d]
			ob += v * stb[d]
		}
		s.offA[i], s.offB[i] = oa*s.m*s.k, ob*s.k*s.n
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < batch[d] {
				break
			}
			idx[d] = 0
		}
	}
	return s, nil
}

// flatMatMulShape returns the geometry of a product whose B has no batch
// dimensions (rank 2) and whose A has rank 1 to cap(out), the output
// shape apart (in out's storage; s.out is left nil, so that s may go
// where out may not), and whether it applies: MatMul's common case,
// resolved without allocating. Other shapes, and mismatched ones (whose
// error matmulShape reports), are left to matmulShape.
func flatMatMulShape(sa, sb []int, out []int) (s mmShape, shape []int, ok bool) {
	if len(sb) != 2 || len(sa) < 1 || len(sa) > cap(out) || sa[len(sa)-1] != sb[0] {
		return mmShape{}, nil, false
	}
	s = mmShape{m: 1, k: sb[0], n: sb[1], batch: 1, flat: true}
	if len(sa) > 1 {
		s.m = sa[len(sa)-2]
		s.batch = prod(sa[:len(sa)-2])
	}
	return s, append(append(out[:0], sa[:len(sa)-1]...), s.n), true
}

func matmulRun[T Number](threads int, s *mmShape, a, b, y []T) {
	if s.flat {
		gemmPar(threads, false, false, s.batch*s.m, s.n, s.k, 1, a, s.k, b, s.n, 0, y, s.n)
		return
	}
	if s.batch >= threads {
		// Locals for the closure, so that s does not escape.
		m, n, k, offA, offB := s.m, s.n, s.k, s.offA, s.offB
		parallelFor(nil, threads, s.batch, 1, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				gemmT(false, false, m, n, k, 1, a[offA[i]:], k, b[offB[i]:], n, 0, y[i*m*n:], n)
			}
		})
		return
	}
	for i := 0; i < s.batch; i++ {
		gemmPar(threads, false, false, s.m, s.n, s.k, 1, a[s.offA[i]:], s.k, b[s.offB[i]:], s.n, 0, y[i*s.m*s.n:], s.n)
	}
}

// gemmPar is gemmT with C split into row blocks (or, for few rows, column
// blocks) over up to threads goroutines when the product is large enough
// to pay for them.
func gemmPar[T Number](threads int, transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	const minWork, align = 1 << 17, 16
	if threads <= 1 || m*n*k < minWork {
		gemmT(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if m >= 4*threads {
		parallelFor(nil, threads, m, 4, func(lo, hi int) {
			aoff := lo * lda
			if transA {
				aoff = lo
			}
			gemmT(transA, transB, hi-lo, n, k, alpha, a[aoff:], lda, b, ldb, beta, c[lo*ldc:], ldc)
		})
		return
	}
	blocks := (n + align - 1) / align
	parallelFor(nil, threads, blocks, 1, func(lo, hi int) {
		j0, j1 := lo*align, min(hi*align, n)
		boff := j0
		if transB {
			boff = j0 * ldb
		}
		gemmT(transA, transB, m, j1-j0, k, alpha, a, lda, b[boff:], ldb, beta, c[j0:], ldc)
	})
}

// matmulNode is one MatMul node, with B packed at Build time when it is
// a 2-D float32 constant.
type matmulNode struct {
	constB *tensor.Tensor
	packed *asm.PackedB
	plans  mmPlanCache // batched products' geometry, per input shapes
}

func buildMatMul(b *Builder) (Kernel, error) {
	mm := &matmulNode{}
	if B := b.ConstInput(1); B != nil && B.DType() == tensor.Float32 && B.Rank() == 2 && B.Len() <= packMaxFloats {
		k, n := B.Shape()[0], B.Shape()[1]
		mm.constB, mm.packed = B, asm.PackB(false, k, n, B.Float32s(), n)
	}
	return halfWrap(mm.run), nil
}

func (mm *matmulNode) run(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := Need(in, 2); err != nil {
		return nil, err
	}
	A, B := in[0], in[1]
	if err := checkDType("MatMul", A, floatIntTypes...); err != nil {
		return nil, err
	}
	if err := sameDType("MatMul", A, B); err != nil {
		return nil, err
	}
	var outBuf [8]int
	geo, shape, ok := flatMatMulShape(A.Shape(), B.Shape(), outBuf[:0])
	if !ok {
		p, err := mm.plans.get(A.Shape(), B.Shape())
		if err != nil {
			return nil, err
		}
		geo, shape = *p, p.out
	}
	s := &geo
	y, err := rc.NewUninit(A.DType(), shape...)
	if err != nil {
		return nil, err
	}
	switch A.DType() {
	case tensor.Float32:
		var pb *asm.PackedB
		if B == mm.constB {
			pb = mm.packed
		}
		matmulFloat32(rc.workers(), rc.threads(), s, A.Float32s(), B.Float32s(), pb, y.Float32s())
	case tensor.Float64:
		matmulRun(rc.threads(), s, tensor.Data[float64](A), tensor.Data[float64](B), tensor.Data[float64](y))
	case tensor.Int32:
		matmulRun(rc.threads(), s, tensor.Data[int32](A), tensor.Data[int32](B), tensor.Data[int32](y))
	case tensor.Int64:
		matmulRun(rc.threads(), s, A.Int64s(), B.Int64s(), y.Int64s())
	case tensor.Uint32:
		matmulRun(rc.threads(), s, tensor.Data[uint32](A), tensor.Data[uint32](B), tensor.Data[uint32](y))
	case tensor.Uint64:
		matmulRun(rc.threads(), s, tensor.Data[uint64](A), tensor.Data[uint64](B), tensor.Data[uint64](y))
	default:
		return nil, ErrDType("MatMul", A.DType())
	}
	return rc.Results(y), nil
}

// matmulFloat32 is matmulRun for float32: a B without batch dimensions
// makes one product (with pb, B packed, when it is the constant); a
// batch of products is split over threads by batch entries when there
// are enough of them and each is small, else each product is split.
func matmulFloat32(w *Workers, threads int, s *mmShape, a, b []float32, pb *asm.PackedB, y []float32) {
	if s.flat {
		j := sgemmJob{m: s.batch * s.m, n: s.n, k: s.k, alpha: 1, a: a, lda: s.k, b: b, ldb: s.n, pb: pb, c: y, ldc: s.n, workers: w}
		j.run(threads)
		return
	}
	one := s.m * s.n * max(s.k, 1)
	t := min(threads, max(s.batch*one/gemmThreadWork, 1))
	if t > 1 && s.batch >= 2*t && one < 4*gemmThreadWork {
		// Locals for the closure, so that s does not escape.
		m, n, k, offA, offB := s.m, s.n, s.k, s.offA, s.offB
		runTasks(w, t, s.batch, func(i int) {
			asm.Sgemm(false, false, m, n, k, 1, a[offA[i]:], k, b[offB[i]:], n, 0, y[i*m*n:], n)
		})
		return
	}
	for i := 0; i < s.batch; i++ {
		j := sgemmJob{m: s.m, n: s.n, k: s.k, alpha: 1, a: a[s.offA[i]:], lda: s.k, b: b[s.offB[i]:], ldb: s.n, c: y[i*s.m*s.n:], ldc: s.n, workers: w}
		j.run(threads)
	}
}

// ---- MatMulInteger ----

// int8s returns the elements of an int8 or uint8 tensor as int32.
func int8s(t *tensor.Tensor, what string) ([]int32, error) {
	switch s := t.Data().(type) {
	case []uint8:
		out := make([]int32, len(s))
		for i, v := range s {
			out[i] = int32(v)
		}
		return out, nil
	case []int8:
		out := make([]int32, len(s))
		for i, v := range s {
			out[i] = int32(v)
		}
		return out, nil
	}
	return nil, ErrDType(what, t.DType())
}

// subZeroPoint subtracts zero point zp (nil for none) from x of shape
// shape. zp is a scalar, a vector of length shape[axis] (axis -2 for
// per-row, -1 for per-column), or a tensor broadcastable to shape.
func subZeroPoint(x []int32, shape []int, zpT *tensor.Tensor, elemType tensor.DType, axis int, what string) error {
	if zpT == nil {
		return nil
	}
	if zpT.DType() != elemType {
		return fmt.Errorf("%s zero point has type %v, input has %v", what, zpT.DType(), elemType)
	}
	zp, err := int8s(zpT, what)
	if err != nil {
		return err
	}
	switch {
	case len(zp) == 1:
		for i := range x {
			x[i] -= zp[0]
		}
		return nil
	case zpT.Rank() == 1 && len(shape) >= 2 && len(zp) == shape[len(shape)+axis]:
		inner := 1
		if axis == -2 {
			inner = shape[len(shape)-1]
		}
		n := len(zp)
		for i := range x {
			x[i] -= zp[(i/inner)%n]
		}
		return nil
	}
	bs, err := tensor.BroadcastShapes(zpT.Shape(), shape)
	if err != nil || !tensor.ShapeEqual(bs, shape) {
		return fmt.Errorf("%s zero point of shape %v does not fit input shape %v", what, zpT.Shape(), shape)
	}
	full := broadcastTo(zp, zpT.Shape(), shape)
	for i := range x {
		x[i] -= full[i]
	}
	return nil
}

func buildMatMulInteger(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		A, B := in[0], in[1]
		a, err := int8s(A, "MatMulInteger A")
		if err != nil {
			return nil, err
		}
		bv, err := int8s(B, "MatMulInteger B")
		if err != nil {
			return nil, err
		}
		s, err := matmulShape(A.Shape(), B.Shape())
		if err != nil {
			return nil, err
		}
		if err := subZeroPoint(a, A.Shape(), Opt(in, 2), A.DType(), -2, "A"); err != nil {
			return nil, err
		}
		if err := subZeroPoint(bv, B.Shape(), Opt(in, 3), B.DType(), -1, "B"); err != nil {
			return nil, err
		}
		y, err := tensor.New(tensor.Int32, s.out...)
		if err != nil {
			return nil, err
		}
		matmulRun(rc.threads(), s, a, bv, tensor.Data[int32](y))
		return rc.Results(y), nil
	}), nil
}
