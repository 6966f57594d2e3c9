package ops

import (
	"encoding/binary"
	"fmt"
	"regexp"
	"strings"

	"github.com/onyxrt/onyx/tensor"
)

// Text operators: TfIdfVectorizer (n-gram counting), RegexFullMatch,
// StringConcat and StringSplit. StringNormalizer is in strings.go.

func registerText(r *Registry) {
	r.Register(
		&Def{Name: "TfIdfVectorizer", Since: 9, Build: buildTfIdfVectorizer},
		&Def{Name: "RegexFullMatch", Since: 20, Build: buildRegexFullMatch},
		&Def{Name: "StringConcat", Since: 20, Build: buildStringConcat},
		&Def{Name: "StringSplit", Since: 20, Build: buildStringSplit},
	)
}

// tfidfMode is TfIdfVectorizer's weighting criterion.
type tfidfMode int

const (
	tfidfTF    tfidfMode = iota // counts
	tfidfIDF                    // weight (or 1) where the count is non-zero
	tfidfTFIDF                  // count times weight
)

// tfidf is a parsed TfIdfVectorizer node: the pool's n-grams of the
// lengths counted, keyed by their encoding (see ngramKey), each with its
// output coordinate.
type tfidf struct {
	mode             tfidfMode
	minN, maxN, skip int
	strings          bool           // the pool is pool_strings (else pool_int64s)
	pool             map[string]int // n-gram key -> output coordinate
	size             int            // output coordinates: max(ngram_indexes)+1
	weights          []float32      // by output coordinate; nil: all 1
}

// buildTfIdfVectorizer counts, in each row of a [C] or [N, C] tensor of
// strings or integers, the n-grams of the pool whose length is in
// [min_gram_length, max_gram_length], where an n-gram may skip up to
// max_skip_count items between consecutive elements (the same skip
// throughout; unigrams are counted once). The i-th n-gram of the pool (in
// the order of pool_strings / pool_int64s, 1-grams first as ngram_counts
// says) is counted at output coordinate ngram_indexes[i]. Modes: TF gives
// the counts, IDF the weight (1 without weights) where a count is non-zero,
// TFIDF count times weight, where weights[i] is the weight of the i-th
// n-gram of the pool and so applies at coordinate ngram_indexes[i] (as in
// ONNX Runtime 1.30; the ONNX reference implementation indexes weights by
// output coordinate instead, which differs only when ngram_indexes is not
// 0, 1, 2...).
func buildTfIdfVectorizer(b *Builder) (Kernel, error) {
	modeName := b.String("mode", "")
	if !b.Has("mode") {
		b.Fail("required attribute %q is missing", "mode")
	}
	minN := b.RequireInt("min_gram_length")
	maxN := b.RequireInt("max_gram_length")
	skip := b.RequireInt("max_skip_count")
	counts := b.RequireInts("ngram_counts")
	indexes := b.RequireInts("ngram_indexes")
	weights := b.Floats("weights", nil)
	poolS := b.Strings("pool_strings", nil)
	poolI := b.Ints("pool_int64s", nil)
	if err := b.Err(); err != nil {
		return nil, err
	}
	t := &tfidf{minN: int(minN), maxN: int(maxN), skip: int(skip), pool: map[string]int{}}
	switch modeName {
	case "TF":
		t.mode = tfidfTF
	case "IDF":
		t.mode = tfidfIDF
	case "TFIDF":
		t.mode = tfidfTFIDF
	default:
		return nil, fmt.Errorf("mode %q is not one of TF, IDF, TFIDF", modeName)
	}
	if minN < 1 || maxN < minN || skip < 0 || skip > 1<<20 {
		return nil, fmt.Errorf("need 1 <= min_gram_length (%d) <= max_gram_length (%d) and max_skip_count (%d) >= 0", minN, maxN, skip)
	}
	if int(maxN) > len(counts) {
		return nil, fmt.Errorf("max_gram_length %d exceeds the %d n-gram lengths of ngram_counts", maxN, len(counts))
	}
	if b.Has("pool_strings") == b.Has("pool_int64s") {
		return nil, fmt.Errorf("exactly one of pool_strings and pool_int64s must be set")
	}
	t.strings = b.Has("pool_strings")
	items := len(poolI)
	if t.strings {
		items = len(poolS)
	}
	if len(indexes) == 0 {
		return nil, fmt.Errorf("ngram_indexes is empty")
	}
	for _, ix := range indexes {
		if ix < 0 || ix >= 1<<30 {
			return nil, fmt.Errorf("ngram_indexes holds %d, out of range", ix)
		}
		t.size = max(t.size, int(ix)+1)
	}
	if len(weights) > 0 {
		if len(weights) != len(indexes) {
			return nil, fmt.Errorf("weights has %d entries, ngram_indexes %d", len(weights), len(indexes))
		}
		t.weights = make([]float32, t.size)
		for i, ix := range indexes {
			t.weights[ix] = weights[i]
		}
	}
	id := 0
	var key []byte
	for i, start := range counts {
		n := i + 1
		end := int64(items)
		if i+1 < len(counts) {
			end = counts[i+1]
		}
		if start < 0 || end < start || end > int64(items) || (end-start)%int64(n) != 0 {
			return nil, fmt.Errorf("ngram_counts %v does not split the pool of %d items into whole n-grams", counts, items)
		}
		for p := int(start); p < int(end); p, id = p+n, id+1 {
			if id >= len(indexes) {
				return nil, fmt.Errorf("ngram_indexes has %d entries, fewer than the n-grams of the pool", len(indexes))
			}
			if n < t.minN || n > t.maxN {
				continue
			}
			key = key[:0]
			for q := p; q < p+n; q++ {
				if t.strings {
					key = appendStringItem(key, poolS[q])
				} else {
					key = binary.LittleEndian.AppendUint64(key, uint64(poolI[q]))
				}
			}
			if _, dup := t.pool[string(key)]; dup {
				return nil, fmt.Errorf("the pool holds a %d-gram twice", n)
			}
			t.pool[string(key)] = int(indexes[id])
		}
	}
	return KernelFunc(t.run), nil
}

// appendStringItem appends one string to an n-gram key, length-prefixed so
// that keys of different splits differ.
func appendStringItem(key []byte, s string) []byte {
	key = binary.AppendUvarint(key, uint64(len(s)))
	return append(key, s...)
}

func (t *tfidf) run(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	x, err := tensorArg(in, 0, "X")
	if err != nil {
		return nil, err
	}
	var item func(i int, key []byte) []byte
	switch d := x.Data().(type) {
	case []string:
		item = func(i int, key []byte) []byte { return appendStringItem(key, d[i]) }
	case []int32:
		item = func(i int, key []byte) []byte { return binary.LittleEndian.AppendUint64(key, uint64(int64(d[i]))) }
	case []int64:
		item = func(i int, key []byte) []byte { return binary.LittleEndian.AppendUint64(key, uint64(d[i])) }
	default:
		return nil, ErrDType("TfIdfVectorizer", x.DType())
	}
	if (x.DType() == tensor.String) != t.strings {
		return nil, fmt.Errorf("input of type %v does not match the pool (pool_strings for strings, pool_int64s for integers)", x.DType())
	}
	rows, cols := 1, 0
	outShape := []int{t.size}
	switch x.Rank() {
	case 0:
		cols = 1
	case 1:
		cols = x.Shape()[0]
	case 2:
		rows, cols = x.Shape()[0], x.Shape()[1]
		outShape = []int{rows, t.size}
	default:
		return nil, fmt.Errorf("input must be [C] or [N, C], has shape %v", x.Shape())
	}
	y, err := tensor.New(tensor.Float32, outShape...)
	if err != nil {
		return nil, err
	}
	out := y.Float32s()
	ewParallel(rc, rows, max(1, 4096/max(cols, 1)), func(lo, hi int) {
		var key []byte
		for r := lo; r < hi; r++ {
			key = t.countRow(r*cols, cols, item, key, out[r*t.size:(r+1)*t.size])
			t.weigh(out[r*t.size : (r+1)*t.size])
		}
	})
	return rc.Results(y), nil
}

// countRow adds the n-gram counts of the row of cols items starting at
// item index base to counts. key is scratch, returned for reuse.
func (t *tfidf) countRow(base, cols int, item func(int, []byte) []byte, key []byte, counts []float32) []byte {
	first := t.minN
	if first == 1 {
		for i := 0; i < cols; i++ {
			key = item(base+i, key[:0])
			if c, ok := t.pool[string(key)]; ok {
				counts[c]++
			}
		}
		first = 2
		if first > t.maxN {
			return key
		}
	}
	for dist := 1; dist <= t.skip+1; dist++ {
		for start := 0; start+dist*(first-1) < cols; start++ {
			key = key[:0]
			for n, pos := 1, start; n <= t.maxN && pos < cols; n, pos = n+1, pos+dist {
				key = item(base+pos, key)
				if n < first {
					continue
				}
				if c, ok := t.pool[string(key)]; ok {
					counts[c]++
				}
			}
		}
	}
	return key
}

// weigh turns one row of counts into the mode's values.
func (t *tfidf) weigh(row []float32) {
	for i, c := range row {
		w := float32(1)
		if t.weights != nil {
			w = t.weights[i]
		}
		switch t.mode {
		case tfidfIDF:
			if c > 0 {
				row[i] = w
			}
		case tfidfTFIDF:
			row[i] = c * w
		}
	}
}

// buildRegexFullMatch reports, for each string, whether the whole string
// matches the pattern attribute. ONNX Runtime matches with RE2
// (RE2::FullMatch); Go's regexp accepts the same RE2 syntax except \C, and
// reads invalid UTF-8 bytes as U+FFFD where RE2 matches them as bytes, so
// patterns and valid UTF-8 inputs behave the same. An invalid pattern fails
// at load time.
func buildRegexFullMatch(b *Builder) (Kernel, error) {
	pattern := b.String("pattern", "")
	if !b.Has("pattern") {
		b.Fail("required attribute %q is missing", "pattern")
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	if _, err := regexp.Compile(pattern); err != nil {
		return nil, fmt.Errorf("invalid pattern: %w", err)
	}
	re, err := regexp.Compile(`\A(?:` + pattern + `)\z`)
	if err != nil {
		return nil, fmt.Errorf("invalid pattern: %w", err)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := tensorArg(in, 0, "X")
		if err != nil {
			return nil, err
		}
		xs, err := dataAs[string](x)
		if err != nil {
			return nil, err
		}
		y, ys, err := newOutput[bool](x.Shape())
		if err != nil {
			return nil, err
		}
		ewParallel(rc, len(xs), 256, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				ys[i] = re.MatchString(xs[i])
			}
		})
		return rc.Results(y), nil
	}), nil
}

// buildStringConcat concatenates two string tensors elementwise with
// multidirectional broadcasting.
func buildStringConcat(b *Builder) (Kernel, error) {
	if err := b.Err(); err != nil {
		return nil, err
	}
	concat := funcKernel[string, string, string](func(a, b string) string { return a + b })
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		y, err := broadcastBinary[string, string, string](rc, in[0], in[1], concat, grainHeavy)
		if err != nil {
			return nil, err
		}
		return rc.Results(y), nil
	}), nil
}

// buildStringSplit splits every string of X at the delimiter attribute,
// making at most maxsplit splits (all when unset). Output Y has X's shape
// plus a last dimension as long as the longest split, padded with ""; Z
// (int64, X's shape) holds the number of substrings of each. As in ONNX
// Runtime: an empty string has no substrings; without a delimiter (or with
// ""), runs of spaces separate substrings and leading and trailing spaces
// are dropped (the space character only, not every Unicode space).
func buildStringSplit(b *Builder) (Kernel, error) {
	delim := b.String("delimiter", "")
	maxsplit := b.Int("maxsplit", -1)
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := tensorArg(in, 0, "X")
		if err != nil {
			return nil, err
		}
		xs, err := dataAs[string](x)
		if err != nil {
			return nil, err
		}
		parts := make([][]string, len(xs))
		z, zs, err := newOutput[int64](x.Shape())
		if err != nil {
			return nil, err
		}
		width := 0
		for i, s := range xs {
			parts[i] = splitString(s, delim, maxsplit)
			zs[i] = int64(len(parts[i]))
			width = max(width, len(parts[i]))
		}
		y, ys, err := newOutput[string](append(append([]int(nil), x.Shape()...), width))
		if err != nil {
			return nil, err
		}
		for i, p := range parts {
			copy(ys[i*width:], p)
		}
		return rc.Results(y, z), nil
	}), nil
}

// splitString splits s as StringSplit does; maxsplit < 0 means no limit.
func splitString(s, delim string, maxsplit int64) []string {
	if s == "" {
		return nil
	}
	var out []string
	if delim != "" {
		for {
			i := strings.Index(s, delim)
			if i < 0 || int64(len(out)) == maxsplit {
				return append(out, s)
			}
			out = append(out, s[:i])
			s = s[i+len(delim):]
		}
	}
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			return out
		}
		if int64(len(out)) == maxsplit {
			return append(out, strings.TrimRight(s, " "))
		}
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i:]
	}
}
