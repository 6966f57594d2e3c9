package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/onyxrt/onyx/tensor"
)

// Dataset is a set of examples addressed by index. Batch stacks the
// examples at idx along a new first axis and returns them as feeds: by
// model input name, or by role ("input" for the model's only data input,
// "label" for the loss's label), as the loaders of train/data do.
type Dataset interface {
	Len() int
	Batch(idx []int) (map[string]*tensor.Tensor, error)
}

// TensorDataset is an in-memory Dataset: tensors by feed name whose first
// axis indexes the examples.
type TensorDataset map[string]*tensor.Tensor

// Len returns the size of the first axis (0 when empty).
func (d TensorDataset) Len() int {
	for _, t := range d {
		if t.Rank() == 0 {
			return 0
		}
		return t.Shape()[0]
	}
	return 0
}

// Batch gathers the examples at idx.
func (d TensorDataset) Batch(idx []int) (map[string]*tensor.Tensor, error) {
	out := make(map[string]*tensor.Tensor, len(d))
	n := d.Len()
	for name, t := range d {
		if t.Rank() == 0 || t.Shape()[0] != n {
			return nil, fmt.Errorf("train: dataset tensor %q has shape %v, want a first axis of %d", name, t.Shape(), n)
		}
		row := t.Len() / max(n, 1)
		shape := append([]int{len(idx)}, t.Shape()[1:]...)
		b, err := tensor.New(t.DType(), shape...)
		if err != nil {
			return nil, err
		}
		if err := gatherRows(b, t, idx, row, n); err != nil {
			return nil, fmt.Errorf("train: dataset tensor %q: %w", name, err)
		}
		out[name] = b
	}
	return out, nil
}

func gatherRows(dst, src *tensor.Tensor, idx []int, row, n int) error {
	switch s := src.Data().(type) {
	case []float32:
		return copyRows(tensor.Data[float32](dst), s, idx, row, n)
	case []float64:
		return copyRows(tensor.Data[float64](dst), s, idx, row, n)
	case []int64:
		return copyRows(tensor.Data[int64](dst), s, idx, row, n)
	case []int32:
		return copyRows(tensor.Data[int32](dst), s, idx, row, n)
	case []uint8:
		return copyRows(tensor.Data[uint8](dst), s, idx, row, n)
	case []bool:
		return copyRows(tensor.Data[bool](dst), s, idx, row, n)
	}
	return fmt.Errorf("element type %v is not supported", src.DType())
}

func copyRows[T any](dst, src []T, idx []int, row, n int) error {
	for i, j := range idx {
		if j < 0 || j >= n {
			return fmt.Errorf("index %d out of range [0, %d)", j, n)
		}
		copy(dst[i*row:(i+1)*row], src[j*row:(j+1)*row])
	}
	return nil
}

// subset is the Dataset of some examples of another.
type subset struct {
	ds  Dataset
	idx []int
}

func (s *subset) Len() int { return len(s.idx) }

func (s *subset) Batch(idx []int) (map[string]*tensor.Tensor, error) {
	m := make([]int, len(idx))
	for i, j := range idx {
		if j < 0 || j >= len(s.idx) {
			return nil, fmt.Errorf("train: index %d out of range [0, %d)", j, len(s.idx))
		}
		m[i] = s.idx[j]
	}
	return s.ds.Batch(m)
}

// SplitDataset shuffles the indices of ds with seed and returns the first
// 1-fraction of them as the training set and the rest as the validation
// set.
func SplitDataset(ds Dataset, fraction float64, seed uint64) (trainSet, valSet Dataset) {
	n := ds.Len()
	idx := rand.New(rand.NewPCG(seed, 0x51a7)).Perm(n)
	nVal := int(math.Round(float64(n) * fraction))
	nVal = min(max(nVal, 0), n)
	return &subset{ds, idx[:n-nVal]}, &subset{ds, idx[n-nVal:]}
}

// FitOptions configure Fit.
type FitOptions struct {
	Epochs    int // default 1
	BatchSize int // default 32 (capped to the data set size)
	// NoShuffle keeps the examples in order (shuffling, seeded by the
	// Trainer's Seed, is the default).
	NoShuffle bool
	// Validation is held-out data; when nil, ValidationSplit (a fraction
	// in [0, 1)) of the data set is held out after a seeded shuffle.
	Validation      Dataset
	ValidationSplit float64
	// Patience stops training after that many epochs without an
	// improvement of the validation loss (of the training loss without
	// validation data) by more than MinDelta; 0 disables early stopping.
	Patience int
	MinDelta float64
	// RestoreBest puts back the parameters of the best epoch at the end
	// when early stopping is on.
	RestoreBest bool
	// FeedNames maps data-set keys to model input names, for keys that
	// are neither input names nor the roles "input" and "label".
	FeedNames map[string]string
	// Logf, when set, receives one line per epoch.
	Logf func(format string, args ...any)
}

// EpochStats describe one epoch of Fit.
type EpochStats struct {
	Epoch       int // 1-based
	Loss        float64
	Accuracy    float64 // NaN when it does not apply
	ValLoss     float64 // NaN without validation data
	ValAccuracy float64
	Duration    time.Duration
}

// History is what Fit did.
type History struct {
	Epochs    []EpochStats
	BestEpoch int  // 1-based epoch with the best monitored loss
	Stopped   bool // early stopping ended the training
}

// Fit trains on data for opts.Epochs epochs of mini-batches and returns
// the per-epoch losses and accuracies. It stops early on ctx's
// cancellation (returning what it did and ctx's error).
func (t *Trainer) Fit(ctx context.Context, data Dataset, opts FitOptions) (*History, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if opts.Epochs <= 0 {
		opts.Epochs = 1
	}
	trainSet, valSet := data, opts.Validation
	if valSet == nil && opts.ValidationSplit > 0 {
		if opts.ValidationSplit >= 1 {
			return nil, fmt.Errorf("train: ValidationSplit %v must be below 1", opts.ValidationSplit)
		}
		trainSet, valSet = SplitDataset(data, opts.ValidationSplit, t.opts.Seed)
	}
	n := trainSet.Len()
	if n == 0 {
		return nil, errors.New("train: Fit: empty data set")
	}
	bs := opts.BatchSize
	if bs <= 0 {
		bs = 32
	}
	bs = min(bs, n)
	rng := rand.New(rand.NewPCG(t.opts.Seed, 0xf17))
	h := &History{}
	best := math.Inf(1)
	var bestValues map[string]*tensor.Tensor
	wait := 0
	for epoch := 1; epoch <= opts.Epochs; epoch++ {
		start := time.Now()
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		if !opts.NoShuffle {
			rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		var lossSum float64
		var acc accCounter
		for lo := 0; lo < n; lo += bs {
			if err := ctx.Err(); err != nil {
				return h, err
			}
			idx := order[lo:min(lo+bs, n)]
			batch, err := trainSet.Batch(idx)
			if err != nil {
				return h, err
			}
			feeds, err := t.mapFeeds(batch, opts.FeedNames)
			if err != nil {
				return h, err
			}
			loss, out, err := t.step(ctx, feeds)
			if err != nil {
				return h, err
			}
			lossSum += loss * float64(len(idx))
			acc.add(out[t.opts.Loss.Output()], feeds[t.opts.Loss.Label()], t.threshold())
		}
		st := EpochStats{Epoch: epoch, Loss: lossSum / float64(n), Accuracy: acc.value(), ValLoss: math.NaN(), ValAccuracy: math.NaN()}
		monitored := st.Loss
		if valSet != nil && valSet.Len() > 0 {
			ev, err := t.Evaluate(ctx, valSet, bs, opts.FeedNames)
			if err != nil {
				return h, err
			}
			st.ValLoss, st.ValAccuracy = ev.Loss, ev.Accuracy
			monitored = ev.Loss
		}
		st.Duration = time.Since(start)
		h.Epochs = append(h.Epochs, st)
		if opts.Logf != nil {
			line := fmt.Sprintf("epoch %d/%d: loss %.4f", epoch, opts.Epochs, st.Loss)
			if !math.IsNaN(st.Accuracy) {
				line += fmt.Sprintf(", accuracy %.4f", st.Accuracy)
			}
			if !math.IsNaN(st.ValLoss) {
				line += fmt.Sprintf(", val loss %.4f", st.ValLoss)
			}
			if !math.IsNaN(st.ValAccuracy) {
				line += fmt.Sprintf(", val accuracy %.4f", st.ValAccuracy)
			}
			opts.Logf("%s (%v)", line, st.Duration.Round(time.Millisecond))
		}
		if monitored < best-opts.MinDelta {
			best, h.BestEpoch, wait = monitored, epoch, 0
			if opts.RestoreBest && opts.Patience > 0 {
				bestValues = t.snapshot()
			}
		} else if opts.Patience > 0 {
			wait++
			if wait >= opts.Patience {
				h.Stopped = true
				break
			}
		}
	}
	if bestValues != nil {
		t.values = bestValues
	}
	return h, nil
}

// snapshot copies the map of current values (tensors are never modified
// in place, so sharing them is safe).
func (t *Trainer) snapshot() map[string]*tensor.Tensor {
	s := make(map[string]*tensor.Tensor, len(t.values))
	for k, v := range t.values {
		s[k] = v
	}
	return s
}

func (t *Trainer) threshold() float64 {
	if th, ok := t.opts.Loss.(interface{ threshold() float64 }); ok {
		return th.threshold()
	}
	return 0.5
}

// mapFeeds renames a batch's keys to model inputs: a key that is an input
// stays; FeedNames renames; "label" is the loss's label and "input" the
// only other input.
func (t *Trainer) mapFeeds(batch map[string]*tensor.Tensor, names map[string]string) (map[string]*tensor.Tensor, error) {
	inputs := map[string]bool{}
	var data []string
	for _, in := range t.feeds {
		inputs[in.Name] = true
		if in.Name != t.opts.Loss.Label() {
			data = append(data, in.Name)
		}
	}
	out := make(map[string]*tensor.Tensor, len(batch))
	for k, v := range batch {
		name := k
		switch {
		case names[k] != "":
			name = names[k]
		case inputs[k]:
		case k == "label":
			name = t.opts.Loss.Label()
		case k == "input" && len(data) == 1:
			name = data[0]
		default:
			return nil, fmt.Errorf("train: data set key %q is not an input of the model (inputs %v); set FitOptions.FeedNames", k, t.feedNames())
		}
		out[name] = v
	}
	return out, nil
}

func (t *Trainer) feedNames() []string {
	var s []string
	for _, in := range t.feeds {
		s = append(s, in.Name)
	}
	return s
}

// EvalResult is the loss and accuracy of a model on a data set.
type EvalResult struct {
	Loss     float64
	Accuracy float64 // NaN when it does not apply
	Examples int
}

// Evaluate computes the mean loss and the accuracy of the current model
// (inference mode) on data, in batches of batchSize (0: 256).
func (t *Trainer) Evaluate(ctx context.Context, data Dataset, batchSize int, feedNames map[string]string) (EvalResult, error) {
	n := data.Len()
	if batchSize <= 0 {
		batchSize = 256
	}
	var sum float64
	var acc accCounter
	for lo := 0; lo < n; lo += batchSize {
		idx := make([]int, 0, batchSize)
		for i := lo; i < min(lo+batchSize, n); i++ {
			idx = append(idx, i)
		}
		batch, err := data.Batch(idx)
		if err != nil {
			return EvalResult{}, err
		}
		feeds, err := t.mapFeeds(batch, feedNames)
		if err != nil {
			return EvalResult{}, err
		}
		out, err := t.Run(ctx, feeds)
		if err != nil {
			return EvalResult{}, err
		}
		l, err := scalarOf(out[t.loss])
		if err != nil {
			return EvalResult{}, err
		}
		sum += l * float64(len(idx))
		acc.add(out[t.opts.Loss.Output()], feeds[t.opts.Loss.Label()], t.threshold())
	}
	if n == 0 {
		return EvalResult{Loss: math.NaN(), Accuracy: math.NaN()}, nil
	}
	return EvalResult{Loss: sum / float64(n), Accuracy: acc.value(), Examples: n}, nil
}

// accCounter accumulates classification accuracy.
type accCounter struct {
	correct, total int
	invalid        bool
}

func (a *accCounter) add(out, label *tensor.Tensor, threshold float64) {
	if a.invalid {
		return
	}
	c, n, ok := Accuracy(out, label, threshold)
	if !ok {
		a.invalid = true
		return
	}
	a.correct += c
	a.total += n
}

func (a *accCounter) value() float64 {
	if a.invalid || a.total == 0 {
		return math.NaN()
	}
	return float64(a.correct) / float64(a.total)
}

// Accuracy counts the correct predictions of out against label. With
// integer labels, out holds class scores along axis 1 ([N, C, ...],
// labels [N, ...]) and the prediction is the argmax. With float labels of
// out's shape, a class axis of size > 1 means one-hot labels (both
// argmaxed), otherwise binary predictions split at threshold. ok is false
// when the shapes fit none of these.
func Accuracy(out, label *tensor.Tensor, threshold float64) (correct, total int, ok bool) {
	if out == nil || label == nil || out.Rank() == 0 || !out.DType().IsFloat() {
		return 0, 0, false
	}
	o := out.Float64s()
	os := out.Shape()
	if label.DType().IsInt() {
		ls := label.Shape()
		if len(os) < 2 || len(ls) != len(os)-1 || ls[0] != os[0] || !tensor.ShapeEqual(ls[1:], os[2:]) {
			return 0, 0, false
		}
		l, _ := label.AsInt64s()
		n, c, d := os[0], os[1], label.Len()/max(os[0], 1)
		for i := 0; i < n; i++ {
			for j := 0; j < d; j++ {
				if argmaxAt(o, i, c, d, j) == int(l[i*d+j]) {
					correct++
				}
				total++
			}
		}
		return correct, total, true
	}
	if !label.DType().IsFloat() || !tensor.ShapeEqual(label.Shape(), os) {
		return 0, 0, false
	}
	l := label.Float64s()
	if len(os) >= 2 && os[1] > 1 {
		n, c := os[0], os[1]
		d := len(o) / max(n*c, 1)
		for i := 0; i < n; i++ {
			for j := 0; j < d; j++ {
				if argmaxAt(o, i, c, d, j) == argmaxAt(l, i, c, d, j) {
					correct++
				}
				total++
			}
		}
		return correct, total, true
	}
	for i, v := range o {
		if (v > threshold) == (l[i] > 0.5) {
			correct++
		}
		total++
	}
	return correct, total, true
}

// argmaxAt returns the class with the largest score of sample i, position
// j, in data laid out as [n, c, d].
func argmaxAt(v []float64, i, c, d, j int) int {
	best := 0
	for k := 1; k < c; k++ {
		if v[(i*c+k)*d+j] > v[(i*c+best)*d+j] {
			best = k
		}
	}
	return best
}
