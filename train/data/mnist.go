package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// openMNIST reads the IDX files of MNIST (or a look-alike such as
// Fashion-MNIST) in dir: split "train" (default) or "test"/"t10k".
func openMNIST(dir, split string, opts Options) (Dataset, error) {
	prefix := "train"
	switch strings.ToLower(split) {
	case "", "train":
	case "test", "t10k":
		prefix = "t10k"
	default:
		return nil, fmt.Errorf("mnist has splits train and test, not %q", split)
	}
	// Read only the records we keep when no permutation needs them all.
	limit := 0
	if opts.Seed == 0 {
		limit = opts.Limit
	}
	imgs, dims, err := readIDX(filepath.Join(dir, prefix+"-images-idx3-ubyte"), 3, limit)
	if err != nil {
		return nil, err
	}
	labs, ldims, err := readIDX(filepath.Join(dir, prefix+"-labels-idx1-ubyte"), 1, limit)
	if err != nil {
		return nil, err
	}
	n, h, w := dims[0], dims[1], dims[2]
	if ldims[0] != n {
		return nil, fmt.Errorf("mnist %s: %d images but %d labels", prefix, n, ldims[0])
	}
	keep := selectOrder(n, opts)
	pix := imgs[:len(keep)*h*w]
	if opts.Seed != 0 {
		pix = gatherRows(imgs, h*w, keep)
	}
	labels := make([]int64, len(keep))
	for i, j := range keep {
		labels[i] = int64(labs[j])
	}
	return newImageSet(pix, len(keep), h, w, 1, labels, nil, opts)
}

// readIDX reads an IDX file of unsigned bytes (name, or name.gz when name
// does not exist) with rank dimensions. With limit > 0 it reads at most
// limit records and reports that count as the first dimension.
func readIDX(name string, rank, limit int) ([]uint8, []int, error) {
	f, err := os.Open(name)
	if os.IsNotExist(err) {
		name += ".gz"
		f, err = os.Open(name)
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReaderSize(f, 1<<16)
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		defer zr.Close()
		r = zr
	}
	head := make([]byte, 4+4*rank)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, nil, fmt.Errorf("%s: reading the IDX header: %w", name, err)
	}
	magic := binary.BigEndian.Uint32(head)
	if magic != 0x800|uint32(rank) {
		return nil, nil, fmt.Errorf("%s: IDX magic %#08x, want %#08x (unsigned bytes, rank %d)", name, magic, 0x800|rank, rank)
	}
	dims := make([]int, rank)
	per := 1
	for i := range dims {
		d := binary.BigEndian.Uint32(head[4+4*i:])
		if d > 1<<28 {
			return nil, nil, fmt.Errorf("%s: implausible dimension %d", name, d)
		}
		dims[i] = int(d)
		if i > 0 {
			per *= dims[i]
		}
	}
	if limit > 0 && limit < dims[0] {
		dims[0] = limit
	}
	buf := make([]uint8, dims[0]*per)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, nil, fmt.Errorf("%s: reading %d records: %w", name, dims[0], err)
	}
	return buf, dims, nil
}
