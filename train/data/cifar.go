package data

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// CIFAR10Classes are the CIFAR-10 class names in label order.
var CIFAR10Classes = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// openCIFAR10 reads CIFAR-10 from a directory (binary batches if present,
// else cifar10_<split>_jpeg.tar.gz), a tar archive of
// <split>/<class>/*.jpg, or one binary file (split ignored).
func openCIFAR10(p, split string, opts Options) (Dataset, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	split = strings.ToLower(split)
	if !st.IsDir() {
		if isTar(p) {
			return openCIFARTar(p, split, opts)
		}
		return openCIFARBinary([]string{p}, opts)
	}
	if split == "" {
		split = "train"
	}
	if split != "train" && split != "test" {
		return nil, fmt.Errorf("cifar10 has splits train and test, not %q", split)
	}
	// The original binary distribution (cifar-10-batches-bin).
	var bins []string
	if split == "test" {
		bins = []string{filepath.Join(p, "test_batch.bin")}
	} else {
		for i := 1; i <= 5; i++ {
			bins = append(bins, filepath.Join(p, fmt.Sprintf("data_batch_%d.bin", i)))
		}
	}
	if allExist(bins) {
		return openCIFARBinary(bins, opts)
	}
	archive := filepath.Join(p, "cifar10_"+split+"_jpeg.tar.gz")
	if _, err := os.Stat(archive); err != nil {
		return nil, fmt.Errorf("no CIFAR-10 %s data in %s (want %s or %s)", split, p, filepath.Base(bins[0]), filepath.Base(archive))
	}
	return openCIFARTar(archive, split, opts)
}

func allExist(names []string) bool {
	for _, n := range names {
		if _, err := os.Stat(n); err != nil {
			return false
		}
	}
	return true
}

func isTar(p string) bool {
	l := strings.ToLower(p)
	return strings.HasSuffix(l, ".tar.gz") || strings.HasSuffix(l, ".tgz") || strings.HasSuffix(l, ".tar")
}

// openCIFARBinary reads records of 1 label byte and 3x1024 bytes of R, G
// and B planes.
func openCIFARBinary(files []string, opts Options) (Dataset, error) {
	const rec = 1 + 3*32*32
	var raw []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if len(b)%rec != 0 {
			return nil, fmt.Errorf("%s: %d bytes is not a whole number of %d-byte CIFAR-10 records", f, len(b), rec)
		}
		raw = append(raw, b...)
	}
	n := len(raw) / rec
	keep := selectOrder(n, opts)
	pix := make([]uint8, len(keep)*32*32*3)
	labels := make([]int64, len(keep))
	for i, j := range keep {
		r := raw[j*rec : (j+1)*rec]
		if r[0] > 9 {
			return nil, fmt.Errorf("record %d has label %d (want 0..9)", j, r[0])
		}
		labels[i] = int64(r[0])
		dst := pix[i*3072 : (i+1)*3072]
		for k := 0; k < 1024; k++ {
			dst[3*k], dst[3*k+1], dst[3*k+2] = r[1+k], r[1+1024+k], r[1+2048+k]
		}
	}
	return newImageSet(pix, len(keep), 32, 32, 3, labels, CIFAR10Classes, opts)
}

// openCIFARTar reads JPEG/PNG images stored as [.../]<split>/<class>/<name>
// in a tar archive; the class is the folder name, in CIFAR order.
func openCIFARTar(archive, split string, opts Options) (Dataset, error) {
	classIdx := map[string]int{}
	for i, c := range CIFAR10Classes {
		classIdx[c] = i
	}
	byClass := make([][]namedBlob, len(CIFAR10Classes))
	err := walkTar(archive, func(name string, r io.Reader) error {
		dir, file := path.Split(name)
		dir = strings.TrimSuffix(dir, "/")
		classDir, class := path.Split(dir)
		c, ok := classIdx[class]
		if !ok || !isImageName(file) {
			return nil
		}
		if split != "" && path.Base(strings.TrimSuffix(classDir, "/")) != split {
			return nil
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		byClass[c] = keepFirst(append(byClass[c], namedBlob{name, b}), firstN(opts), byName)
		return nil
	})
	if err != nil {
		return nil, err
	}
	items, labels := flattenClasses(byClass)
	if len(items) == 0 {
		return nil, fmt.Errorf("%s holds no images under %s/<class>/", archive, split)
	}
	keep := selectOrder(len(items), opts)
	sel := make([]namedBlob, len(keep))
	lab := make([]int64, len(keep))
	for i, j := range keep {
		sel[i], lab[i] = items[j], labels[j]
	}
	pix, err := decodeAll(sel, 32, 32, true)
	if err != nil {
		return nil, err
	}
	return newImageSet(pix, len(sel), 32, 32, 3, lab, CIFAR10Classes, opts)
}

// namedBlob is an undecoded file (read from the file name when data is
// nil).
type namedBlob struct {
	name string
	data []byte
}

// firstN is how many files per class (in order) can possibly be kept: all
// (0) unless a Limit without a Seed permutation keeps a prefix.
func firstN(opts Options) int {
	if opts.Seed == 0 {
		return opts.Limit
	}
	return 0
}

func byName(a, b namedBlob) bool { return a.name < b.name }

// keepFirst bounds memory while reading an archive: once items holds more
// than 2n files, only the first n in less order are kept (n = 0: all).
func keepFirst(items []namedBlob, n int, less func(a, b namedBlob) bool) []namedBlob {
	if n <= 0 || len(items) <= 2*n {
		return items
	}
	sort.Slice(items, func(a, b int) bool { return less(items[a], items[b]) })
	clear(items[n:])
	return items[:n]
}

// flattenClasses sorts each class's files by name and interleaves the
// classes (see the package documentation).
func flattenClasses(byClass [][]namedBlob) ([]namedBlob, []int64) {
	counts := make([]int, len(byClass))
	var flat []namedBlob
	var labs []int64
	for c, items := range byClass {
		sort.Slice(items, func(a, b int) bool { return byName(items[a], items[b]) })
		counts[c] = len(items)
		flat = append(flat, items...)
		for range items {
			labs = append(labs, int64(c))
		}
	}
	order := interleave(counts)
	out := make([]namedBlob, len(order))
	outLab := make([]int64, len(order))
	for i, j := range order {
		out[i], outLab[i] = flat[j], labs[j]
	}
	return out, outLab
}

func isImageName(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".png", ".jpg", ".jpeg", ".gif":
		return true
	}
	return false
}

// decodeAll decodes images in parallel into one HWC RGB buffer of h x w
// images. With exact, an image of another size is an error; otherwise it is
// resized.
func decodeAll(items []namedBlob, h, w int, exact bool) ([]uint8, error) {
	per := h * w * 3
	pix := make([]uint8, len(items)*per)
	err := parallel(len(items), func(i int) error {
		b := items[i].data
		if b == nil {
			var err error
			if b, err = os.ReadFile(items[i].name); err != nil {
				return err
			}
		}
		p, ih, iw, err := decodeRGB(b)
		if err != nil {
			return fmt.Errorf("%s: %w", items[i].name, err)
		}
		if ih != h || iw != w {
			if exact {
				return fmt.Errorf("%s is %dx%d, want %dx%d", items[i].name, iw, ih, w, h)
			}
			p = resizeUint8(p, ih, iw, 3, h, w)
		}
		copy(pix[i*per:], p)
		return nil
	})
	return pix, err
}

// walkTar calls f for every regular file in a tar archive (gzip-compressed
// when the name ends in .gz or .tgz), with its slash-separated name.
func walkTar(archive string, f func(name string, r io.Reader) error) error {
	fh, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer fh.Close()
	var r io.Reader = bufio.NewReaderSize(fh, 1<<16)
	if l := strings.ToLower(archive); strings.HasSuffix(l, ".gz") || strings.HasSuffix(l, ".tgz") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("%s: %w", archive, err)
		}
		defer zr.Close()
		r = zr
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", archive, err)
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != 0 { // 0: pre-POSIX regular file
			continue
		}
		if err := f(strings.TrimPrefix(hdr.Name, "./"), tr); err != nil {
			return fmt.Errorf("%s: %s: %w", archive, hdr.Name, err)
		}
	}
}
