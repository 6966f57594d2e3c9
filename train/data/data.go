// Package data loads training data sets as float32/int64 tensors ready to
// feed a training step.
//
// Every loader returns a Dataset: a labelled set of examples addressed by
// index, whose Batch stacks examples along a new first axis. Open picks the
// loader from a source string "KIND:PATH":
//
//	mnist:DIR          IDX files (train-images-idx3-ubyte[.gz] ...; split train|test),
//	                   pixels/255 as [N,1,28,28]
//	cifar10:PATH       a directory holding cifar10_{train,test}_jpeg.tar.gz or the original
//	                   binary batches (data_batch_*.bin, test_batch.bin), a .tar.gz of
//	                   <split>/<class>/*.jpg, or one CIFAR binary file; [N,3,32,32] pixels/255
//	imagefolder:DIR    DIR[/split]/<class>/*.png|jpg|jpeg|gif, resized to Options.Size
//	npz:FILE           numpy archive with arrays x/y, input/label or x_<split>/y_<split>
//	npy:DIR or npy:X,Y x.npy and y.npy (or input.npy/label.npy) in DIR, or two files
//	csv:FILE           numeric feature columns and a label column (the last by default)
//	imdb:PATH          aclImdb tar.gz (+ imdb_word_index.json beside it): Keras-like int64
//	                   token sequences [N,MaxLen] and 0/1 labels
//	speech:DIR         Speech Commands WAVs listed in DIR/manifest.csv: log-mel (or MFCC)
//	                   features [N,1,20,80], label = index of the word in sorted order
//
// Image data sets keep their pixels as uint8 and convert (and resize) per
// batch, so the 50k CIFAR training images need 150 MB, not 600.
//
// Data sets made of one folder per class (the CIFAR JPEG archives,
// imagefolder, IMDB's pos/neg) are interleaved class by class: example i is
// the (i/C)-th file (in name order) of class i%C while every class still has
// files. A prefix of the data set (Options.Limit, or batches read without
// shuffling) therefore holds every class.
package data

import (
	"fmt"
	"math"
	"math/bits"
	"strings"

	"github.com/onyxrt/onyx/tensor"
)

// Dataset is a labelled set of examples addressed by index.
type Dataset interface {
	Len() int
	// Batch returns the inputs and labels of the examples at idx, stacked along a new first axis,
	// as feeds keyed by role: "input" (e.g. float32 [B,1,28,28]) and "label" (int64 [B]).
	Batch(idx []int) (map[string]*tensor.Tensor, error)
}

// Roles of the tensors a Batch returns.
const (
	Input = "input"
	Label = "label"
)

// ClassNamer is implemented by data sets whose labels are class indices with
// known names (label i is Classes()[i]).
type ClassNamer interface {
	Classes() []string
}

// Options tune how Open reads a data set. The zero value gives each kind's
// defaults.
type Options struct {
	// Layout of image inputs: "NCHW" (default) or "NHWC". The speech
	// features follow it too ([N,1,20,80] or [N,20,80,1]).
	Layout string
	// Size is the [height, width] images are resized to (bilinear, half-pixel
	// centres). Zero keeps the native size; imagefolder then uses the size of
	// its first image.
	Size [2]int
	// Channels of image inputs: 0 keeps the source's (1 for MNIST, 3 for
	// CIFAR and imagefolder), 1 converts to grey (ITU-R 601 luma), 3
	// replicates a grey image to RGB.
	Channels int
	// PixelScale and PixelOffset map a uint8 pixel p to p*PixelScale +
	// PixelOffset. A zero PixelScale means 1/255 (pixels in [0,1]); MobileNet
	// style [-1,1] inputs use 2/255 and -1.
	PixelScale, PixelOffset float32
	// NumWords caps IMDB word ids: ids >= NumWords become the OOV id 2
	// (default 10000).
	NumWords int
	// MaxLen is the IMDB sequence length (pre-padding with 0, pre-truncation;
	// default 100).
	MaxLen int
	// Limit keeps only the first Limit examples (after the Seed permutation).
	// Zero keeps all.
	Limit int
	// Seed, when non-zero, permutes the examples once at Open (before Limit
	// applies, so Limit then takes a random sample). Zero keeps file order.
	Seed uint64
	// LabelColumn picks the CSV label column: "" for the last, a header name,
	// or a column number (0-based; negative counts from the end).
	LabelColumn string
	// Features is the speech front end: "logmel" (default) or "mfcc".
	Features string
}

func (o Options) nhwc() (bool, error) {
	switch strings.ToUpper(o.Layout) {
	case "", "NCHW":
		return false, nil
	case "NHWC":
		return true, nil
	}
	return false, fmt.Errorf("data: unknown layout %q (want NCHW or NHWC)", o.Layout)
}

func (o Options) check() error {
	if _, err := o.nhwc(); err != nil {
		return err
	}
	if o.Size[0] < 0 || o.Size[1] < 0 || (o.Size[0] == 0) != (o.Size[1] == 0) {
		return fmt.Errorf("data: bad image size %v (want both dimensions positive, or both zero)", o.Size)
	}
	if o.Channels != 0 && o.Channels != 1 && o.Channels != 3 {
		return fmt.Errorf("data: channels must be 0, 1 or 3, not %d", o.Channels)
	}
	if o.Limit < 0 || o.NumWords < 0 || o.MaxLen < 0 {
		return fmt.Errorf("data: Limit, NumWords and MaxLen must not be negative")
	}
	return nil
}

// Kinds lists the source kinds Open understands.
var Kinds = []string{"mnist", "cifar10", "imagefolder", "npz", "npy", "csv", "imdb", "speech"}

// Open reads the data set named by source ("KIND:PATH", see the package
// documentation) and split (e.g. "train", "test"; its meaning depends on the
// kind, "" picks the kind's default).
func Open(source, split string, opts Options) (Dataset, error) {
	kind, path, ok := strings.Cut(source, ":")
	if !ok || path == "" {
		return nil, fmt.Errorf("data: source %q is not KIND:PATH (kinds: %s)", source, strings.Join(Kinds, ", "))
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	var (
		ds  Dataset
		err error
	)
	switch strings.ToLower(kind) {
	case "mnist":
		ds, err = openMNIST(path, split, opts)
	case "cifar10", "cifar":
		ds, err = openCIFAR10(path, split, opts)
	case "imagefolder", "images":
		ds, err = openImageFolder(path, split, opts)
	case "npz":
		ds, err = openNPZ(path, split, opts)
	case "npy":
		ds, err = openNPY(path, split, opts)
	case "csv":
		ds, err = openCSV(path, split, opts)
	case "imdb":
		ds, err = openIMDB(path, split, opts)
	case "speech", "speech_commands":
		ds, err = openSpeech(path, split, opts)
	default:
		return nil, fmt.Errorf("data: unknown kind %q in source %q (kinds: %s)", kind, source, strings.Join(Kinds, ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", source, err)
	}
	return ds, nil
}

// selectOrder returns which of n examples (in base order) the data set
// keeps, in the order it keeps them: a Seed permutation, then Limit.
func selectOrder(n int, opts Options) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	if opts.Seed != 0 {
		shuffle(idx, opts.Seed)
	}
	if opts.Limit > 0 && opts.Limit < n {
		idx = idx[:opts.Limit]
	}
	return idx
}

// noSplit rejects a split for kinds made of one file.
func noSplit(kind, split string) error {
	switch strings.ToLower(split) {
	case "", "all":
		return nil
	}
	return fmt.Errorf("%s data has no %q split (use split \"\" and data.Split for a validation set)", kind, split)
}

// interleave orders class-grouped items round-robin: counts[c] items of
// class c (stored class after class) become c0[0], c1[0], ..., c0[1], ...
// It returns positions into the class-after-class list.
func interleave(counts []int) []int {
	start := make([]int, len(counts))
	total, most := 0, 0
	for c, n := range counts {
		start[c] = total
		total += n
		most = max(most, n)
	}
	out := make([]int, 0, total)
	for k := 0; k < most; k++ {
		for c, n := range counts {
			if k < n {
				out = append(out, start[c]+k)
			}
		}
	}
	return out
}

// rng is splitmix64: tiny, seedable and identical on every platform and Go
// version, so seeded shuffles are reproducible.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// below returns a uniform integer in [0, n) (Lemire's method).
func (r *rng) below(n uint64) uint64 {
	hi, lo := bits.Mul64(r.next(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(r.next(), n)
		}
	}
	return hi
}

// shuffle permutes idx with a Fisher-Yates shuffle seeded by seed.
func shuffle(idx []int, seed uint64) {
	r := rng{s: seed}
	for i := len(idx) - 1; i > 0; i-- {
		j := int(r.below(uint64(i + 1)))
		idx[i], idx[j] = idx[j], idx[i]
	}
}

// Batches cuts the indices 0..n-1 into batches of batchSize (the last one
// may be smaller). With shuffle the indices are first permuted by a
// Fisher-Yates shuffle seeded with seed (the same seed gives the same
// batches on every platform; pass e.g. seed+epoch for a new order each
// epoch). It returns nil when n or batchSize is not positive.
func Batches(n, batchSize int, seed uint64, shuffleIdx bool) [][]int {
	if n <= 0 || batchSize <= 0 {
		return nil
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	if shuffleIdx {
		shuffle(idx, seed)
	}
	out := make([][]int, 0, (n+batchSize-1)/batchSize)
	for lo := 0; lo < n; lo += batchSize {
		out = append(out, idx[lo:min(lo+batchSize, n):min(lo+batchSize, n)])
	}
	return out
}

// Split divides ds into a training and a validation part: the examples are
// permuted with seed and round(fraction*Len) of them form the validation
// set (at least one of each part when 0 < fraction < 1 and Len >= 2).
// fraction must be in [0, 1]; Split panics otherwise, as for an index out of
// range.
func Split(ds Dataset, fraction float64, seed uint64) (train, val Dataset) {
	if !(fraction >= 0 && fraction <= 1) {
		panic(fmt.Sprintf("data.Split: fraction %v is not in [0, 1]", fraction))
	}
	n := ds.Len()
	nVal := int(math.Round(fraction * float64(n)))
	if fraction > 0 && fraction < 1 && n >= 2 {
		nVal = min(max(nVal, 1), n-1)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	shuffle(idx, seed)
	return Subset(ds, idx[nVal:]), Subset(ds, idx[:nVal])
}

// Subset returns the data set whose example i is ds's example idx[i].
func Subset(ds Dataset, idx []int) Dataset {
	return &subset{ds: ds, idx: append([]int(nil), idx...)}
}

type subset struct {
	ds  Dataset
	idx []int
}

func (s *subset) Len() int { return len(s.idx) }

func (s *subset) Batch(idx []int) (map[string]*tensor.Tensor, error) {
	m := make([]int, len(idx))
	for i, j := range idx {
		if j < 0 || j >= len(s.idx) {
			return nil, fmt.Errorf("data: index %d out of range [0, %d)", j, len(s.idx))
		}
		m[i] = s.idx[j]
	}
	return s.ds.Batch(m)
}

func (s *subset) Classes() []string {
	if c, ok := s.ds.(ClassNamer); ok {
		return c.Classes()
	}
	return nil
}

func checkIndices(idx []int, n int) error {
	for _, j := range idx {
		if j < 0 || j >= n {
			return fmt.Errorf("data: index %d out of range [0, %d)", j, n)
		}
	}
	return nil
}
