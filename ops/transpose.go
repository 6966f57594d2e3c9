package ops

import (
	"fmt"
	"slices"
	"unsafe"

	"github.com/onyxrt/onyx/ops/asm"
	"github.com/onyxrt/onyx/tensor"
)

// Transpose, DepthToSpace and SpaceToDepth: permutations of dimensions.

func buildTranspose(b *Builder) (Kernel, error) {
	perm := b.Ints("perm", nil)
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		var pBuf [8]int
		p, err := transposePermInto(pBuf[:], perm, x.Rank())
		if err != nil {
			return nil, err
		}
		out, err := transposeTensor(rc, x, x.Shape(), p)
		if err != nil {
			return nil, err
		}
		return rc.Results(out), nil
	}), nil
}

// transposePerm validates perm for rank (nil means reversed dimensions).
func transposePerm(perm []int64, rank int) ([]int, error) {
	return transposePermInto(nil, perm, rank)
}

// transposePermInto is transposePerm writing into dst when it is long
// enough.
func transposePermInto(dst []int, perm []int64, rank int) ([]int, error) {
	p := intsBuf(dst, rank)
	if perm == nil {
		for i := range p {
			p[i] = rank - 1 - i
		}
		return p, nil
	}
	if len(perm) != rank {
		return nil, fmt.Errorf("perm %v has %d entries for an input of rank %d", slices.Clone(perm), len(perm), rank)
	}
	for i, v := range perm {
		if v < 0 || v >= int64(rank) || slices.Contains(p[:i], int(v)) {
			return nil, fmt.Errorf("perm %v is not a permutation of 0..%d", slices.Clone(perm), rank-1)
		}
		p[i] = int(v)
	}
	return p, nil
}

// transposeTensor returns x's data, read as having shape (same element
// count as x), with its dimensions permuted by perm.
func transposeTensor(rc *RunContext, x *tensor.Tensor, shape []int, perm []int) (*tensor.Tensor, error) {
	var buf [8]int
	outShape := intsBuf(buf[:], len(perm))
	for i, p := range perm {
		outShape[i] = shape[p]
	}
	out, err := layoutNewUninit(rc, x.DType(), outShape)
	if err != nil {
		return nil, err
	}
	w, err := layoutWidth(x.DType())
	if err != nil {
		return nil, err
	}
	threads := 1
	if rc != nil && rc.Threads > 1 {
		threads = rc.Threads
	}
	switch w {
	case 1:
		transposeRaw[uint8](out, x, shape, perm, threads)
	case 2:
		transposeRaw[uint16](out, x, shape, perm, threads)
	case 4:
		transposeRaw[uint32](out, x, shape, perm, threads)
	case 8:
		transposeRaw[uint64](out, x, shape, perm, threads)
	default:
		transposeRaw[string](out, x, shape, perm, threads)
	}
	return out, nil
}

// transposeBlock is the tile edge of the blocked 2-D transpose.
const transposeBlock = 32

// transposeParallelMin is the element count below which a transpose runs
// on one goroutine.
const transposeParallelMin = 1 << 16

func transposeRaw[T layoutElem](out, x *tensor.Tensor, shape, perm []int, threads int) {
	dst, src := layoutRaw[T](out), layoutRaw[T](x)
	if len(dst) == 0 {
		return
	}
	// Output dimensions with the source stride of each, simplified: drop
	// size-1 dimensions and merge runs that stay contiguous.
	var strBuf, nBuf, ssBuf, dsBuf, outerBuf, odBuf, osBuf [8]int
	inStr := stridesInto(intsBuf(strBuf[:], len(shape)), shape)
	n, ss := nBuf[:0], ssBuf[:0]
	for _, p := range perm {
		d := shape[p]
		if d == 1 {
			continue
		}
		if k := len(n) - 1; k >= 0 && ss[k] == inStr[p]*d {
			n[k] *= d
			ss[k] = inStr[p]
			continue
		}
		n = append(n, d)
		ss = append(ss, inStr[p])
	}
	r := len(n)
	if r <= 1 {
		copy(dst, src)
		return
	}
	ds := stridesInto(intsBuf(dsBuf[:], r), n)
	if ss[r-1] == 1 {
		// The innermost output dimension is contiguous in the source:
		// whole rows move with copy.
		layoutCopy(dst, 0, ds, src, 0, ss, n)
		return
	}
	// The source's contiguous dimension is output dimension q (< r-1):
	// walk the other dimensions and transpose (n[q] x n[r-1]) tiles.
	q := 0
	for i := range ss {
		if ss[i] == 1 {
			q = i
		}
	}
	outer, od, os := outerBuf[:0], odBuf[:0], osBuf[:0]
	for i := 0; i < r-1; i++ {
		if i != q {
			outer = append(outer, n[i])
			od = append(od, ds[i])
			os = append(os, ss[i])
		}
	}
	rows, cols := n[q], n[r-1]
	dRow, sCol := ds[q], ss[r-1]
	count := layoutProd(outer)
	if threads <= 1 || len(dst) < transposeParallelMin {
		transposeWalk(dst, src, outer, od, os, rows, cols, dRow, sCol, 0, count)
		return
	}
	if count >= threads {
		// Heap copies for the other goroutines.
		outer, od, os := slices.Clone(outer), slices.Clone(od), slices.Clone(os)
		layoutParallel(count, threads, func(lo, hi int) {
			transposeWalk(dst, src, outer, od, os, rows, cols, dRow, sCol, lo, hi)
		})
		return
	}
	// Few large matrices: split each matrix's rows instead.
	for it := 0; it < count; it++ {
		var d0, s0 int
		rem := it
		for k := len(outer) - 1; k >= 0; k-- {
			i := rem % outer[k]
			rem /= outer[k]
			d0 += i * od[k]
			s0 += i * os[k]
		}
		blocks := (rows + transposeBlock - 1) / transposeBlock
		layoutParallel(blocks, threads, func(lo, hi int) {
			r0 := lo * transposeBlock
			r1 := min(hi*transposeBlock, rows)
			transposeTiles(dst, d0+r0*dRow, dRow, src, s0+r0, sCol, r1-r0, cols)
		})
	}
}

// transposeWalk transposes the (rows x cols) tiles of outer indices
// lo..hi-1 (output strides od, source strides os along outer).
func transposeWalk[T layoutElem](dst, src []T, outer, od, os []int, rows, cols, dRow, sCol, lo, hi int) {
	// Offsets of outer index lo, then step the odometer.
	var idxBuf [8]int
	idx := intsBuf(idxBuf[:], len(outer))
	d0, s0 := 0, 0
	rem := lo
	for k := len(outer) - 1; k >= 0; k-- {
		idx[k] = rem % outer[k]
		rem /= outer[k]
		d0 += idx[k] * od[k]
		s0 += idx[k] * os[k]
	}
	for it := lo; it < hi; it++ {
		transposeTiles(dst, d0, dRow, src, s0, sCol, rows, cols)
		for k := len(outer) - 1; k >= 0; k-- {
			idx[k]++
			d0 += od[k]
			s0 += os[k]
			if idx[k] < outer[k] {
				break
			}
			d0 -= od[k] * outer[k]
			s0 -= os[k] * outer[k]
			idx[k] = 0
		}
	}
}

// transposeTiles writes dst[d0 + i*dRow + j] = src[s0 + i + j*sCol] for
// i < rows, j < cols, in square tiles so both sides stay in cache. Inside a
// tile, eight (then four) output rows are filled at once from as many
// adjacent source elements.
func transposeTiles[T layoutElem](dst []T, d0, dRow int, src []T, s0, sCol, rows, cols int) {
	const bs = transposeBlock
	var zero T
	if unsafe.Sizeof(zero) == 4 && rows >= 8 && cols >= 8 {
		// Four-byte elements (float32 and the 32-bit integers) in the
		// 8×8 blocks of asm.Transpose, as bits: 2-4 times as fast as the
		// tiles below (64×36 in 250 against 640 ns, 128×49 in 410
		// against 1660).
		asm.Transpose(cols, rows, float32sOf(src[s0:]), sCol, float32sOf(dst[d0:]), dRow)
		return
	}
	switch rows {
	case 2: // e.g. complex-like pairs: two output streams, one input stream
		r0 := dst[d0 : d0+cols]
		r1 := dst[d0+dRow : d0+dRow+cols][:len(r0)]
		s := s0
		for j := range r0 {
			q := src[s : s+2 : s+2]
			r0[j], r1[j] = q[0], q[1]
			s += sCol
		}
		return
	case 3: // e.g. RGB images from NHWC to NCHW
		r0 := dst[d0 : d0+cols]
		r1 := dst[d0+dRow : d0+dRow+cols][:len(r0)]
		r2 := dst[d0+2*dRow : d0+2*dRow+cols][:len(r0)]
		s := s0
		for j := range r0 {
			q := src[s : s+3 : s+3]
			r0[j], r1[j], r2[j] = q[0], q[1], q[2]
			s += sCol
		}
		return
	}
	for i0 := 0; i0 < rows; i0 += bs {
		i1 := min(i0+bs, rows)
		for j0 := 0; j0 < cols; j0 += bs {
			w := min(j0+bs, cols) - j0
			i := i0
			for ; i+8 <= i1; i += 8 {
				d := d0 + i*dRow + j0
				r0 := dst[d : d+w]
				r1 := dst[d+dRow : d+dRow+w][:len(r0)]
				r2 := dst[d+2*dRow : d+2*dRow+w][:len(r0)]
				r3 := dst[d+3*dRow : d+3*dRow+w][:len(r0)]
				r4 := dst[d+4*dRow : d+4*dRow+w][:len(r0)]
				r5 := dst[d+5*dRow : d+5*dRow+w][:len(r0)]
				r6 := dst[d+6*dRow : d+6*dRow+w][:len(r0)]
				r7 := dst[d+7*dRow : d+7*dRow+w][:len(r0)]
				s := s0 + i + j0*sCol
				for j := range r0 {
					q := src[s : s+8 : s+8]
					r0[j], r1[j], r2[j], r3[j] = q[0], q[1], q[2], q[3]
					r4[j], r5[j], r6[j], r7[j] = q[4], q[5], q[6], q[7]
					s += sCol
				}
			}
			for ; i+4 <= i1; i += 4 {
				d := d0 + i*dRow + j0
				r0 := dst[d : d+w]
				r1 := dst[d+dRow : d+dRow+w]
				r2 := dst[d+2*dRow : d+2*dRow+w]
				r3 := dst[d+3*dRow : d+3*dRow+w]
				r1, r2, r3 = r1[:len(r0)], r2[:len(r0)], r3[:len(r0)]
				s := s0 + i + j0*sCol
				for j := range r0 {
					q := src[s : s+4 : s+4]
					r0[j], r1[j], r2[j], r3[j] = q[0], q[1], q[2], q[3]
					s += sCol
				}
			}
			for ; i < i1; i++ {
				d := d0 + i*dRow + j0
				row := dst[d : d+w]
				s := s0 + i + j0*sCol
				for j := range row {
					row[j] = src[s]
					s += sCol
				}
			}
		}
	}
}

// float32sOf views a slice of four-byte elements as float32s (the same
// bits).
func float32sOf[T layoutElem](s []T) []float32 {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

// layoutParallel splits [0, n) into up to threads contiguous ranges and
// runs f on each concurrently.
func layoutParallel(n, threads int, f func(lo, hi int)) { parallelFor(nil, threads, n, 1, f) }

// buildDepthToSpace handles DepthToSpace; crdDefault says whether the
// version has a mode attribute (opset 11+).
func buildDepthToSpace(b *Builder) (Kernel, error) {
	bs := b.RequireInt("blocksize")
	mode := "DCR"
	if b.Opset >= 11 {
		mode = b.String("mode", "DCR")
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	if bs <= 0 || bs > 1<<20 {
		return nil, fmt.Errorf("blocksize %d must be positive", bs)
	}
	if mode != "DCR" && mode != "CRD" {
		return nil, fmt.Errorf("mode %q must be DCR or CRD", mode)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		s := x.Shape()
		if len(s) != 4 {
			return nil, fmt.Errorf("input must be 4-D (N, C, H, W), got shape %v", s)
		}
		k := int(bs)
		if s[1]%(k*k) != 0 {
			return nil, fmt.Errorf("channels %d are not a multiple of blocksize² = %d", s[1], k*k)
		}
		n, c, h, w := s[0], s[1]/(k*k), s[2], s[3]
		var view, perm []int
		if mode == "DCR" {
			view, perm = []int{n, k, k, c, h, w}, []int{0, 3, 4, 1, 5, 2}
		} else {
			view, perm = []int{n, c, k, k, h, w}, []int{0, 1, 4, 2, 5, 3}
		}
		t, err := transposeTensor(rc, x, view, perm)
		if err != nil {
			return nil, err
		}
		out, err := t.Reshape(n, c, h*k, w*k)
		if err != nil {
			return nil, err
		}
		return rc.Results(out), nil
	}), nil
}

func buildSpaceToDepth(b *Builder) (Kernel, error) {
	bs := b.RequireInt("blocksize")
	if err := b.Err(); err != nil {
		return nil, err
	}
	if bs <= 0 || bs > 1<<20 {
		return nil, fmt.Errorf("blocksize %d must be positive", bs)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		s := x.Shape()
		if len(s) != 4 {
			return nil, fmt.Errorf("input must be 4-D (N, C, H, W), got shape %v", s)
		}
		k := int(bs)
		if s[2]%k != 0 || s[3]%k != 0 {
			return nil, fmt.Errorf("spatial dimensions %dx%d are not multiples of blocksize %d", s[2], s[3], k)
		}
		n, c, h, w := s[0], s[1], s[2]/k, s[3]/k
		t, err := transposeTensor(rc, x, []int{n, c, h, k, w, k}, []int{0, 3, 5, 1, 2, 4})
		if err != nil {
			return nil, err
		}
		out, err := t.Reshape(n, c*k*k, h, w)
		if err != nil {
			return nil, err
		}
		return rc.Results(out), nil
	}), nil
}
