package data

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/onyxrt/onyx/tensor"
)

// openCSV reads a CSV file of numeric feature columns and one label column
// (Options.LabelColumn, the last by default) into float32 inputs [N,F].
//
// The first row is a header when some column is non-numeric there but
// numeric in the second row. Labels that are all integers become int64
// [N]; labels that are all numbers but not all integers become float32 [N]
// (regression); otherwise each distinct label string is a class, numbered
// in sorted order (Classes lists them).
func openCSV(name, split string, opts Options) (Dataset, error) {
	if err := noSplit("csv", split); err != nil {
		return nil, err
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.TrimLeadingSpace = true
	r.ReuseRecord = false
	var rows [][]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		rows = append(rows, rec)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s is empty", name)
	}
	var header []string
	if len(rows) > 1 && isHeader(rows[0], rows[1]) {
		header, rows = rows[0], rows[1:]
	}
	cols := len(rows[0])
	if cols < 2 {
		return nil, fmt.Errorf("%s: need at least one feature column and a label column, have %d column(s)", name, cols)
	}
	lc, err := labelColumn(opts.LabelColumn, header, cols)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	line0 := 1
	if header != nil {
		line0 = 2
	}
	// Labels (and classes) come from every row, so that a Limit or Seed
	// subset numbers its classes like the whole file.
	labelText := make([]string, len(rows))
	for j, rec := range rows {
		if len(rec) != cols {
			return nil, fmt.Errorf("%s: line %d has %d fields, want %d", name, line0+j, len(rec), cols)
		}
		labelText[j] = strings.TrimSpace(rec[lc])
	}
	yAll, classes := csvLabels(labelText)
	keep := selectOrder(len(rows), opts)
	feats := make([]float32, 0, len(keep)*(cols-1))
	for _, j := range keep {
		for c, v := range rows[j] {
			if c == lc {
				continue
			}
			x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return nil, fmt.Errorf("%s: line %d column %d: %q is not a number", name, line0+j, c+1, v)
			}
			feats = append(feats, float32(x))
		}
	}
	y, err := gather(yAll, keep)
	if err != nil {
		return nil, err
	}
	x := tensor.From([]int{len(keep), cols - 1}, feats)
	return &arraySet{x: x, y: y, classes: classes}, nil
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return err == nil
}

// isHeader reports whether row0 has a non-numeric field over a numeric one
// in row1.
func isHeader(row0, row1 []string) bool {
	for i := 0; i < min(len(row0), len(row1)); i++ {
		if !isNumber(row0[i]) && isNumber(row1[i]) {
			return true
		}
	}
	return false
}

func labelColumn(spec string, header []string, cols int) (int, error) {
	if spec == "" {
		return cols - 1, nil
	}
	for i, h := range header {
		if strings.TrimSpace(h) == spec {
			return i, nil
		}
	}
	i, err := strconv.Atoi(spec)
	if err != nil {
		return 0, fmt.Errorf("label column %q is neither a header name nor a column number", spec)
	}
	if i < 0 {
		i += cols
	}
	if i < 0 || i >= cols {
		return 0, fmt.Errorf("label column %s is out of range for %d columns", spec, cols)
	}
	return i, nil
}

func csvLabels(text []string) (*tensor.Tensor, []string) {
	n := len(text)
	nums := make([]float64, n)
	numeric, integral := true, true
	for i, s := range text {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			numeric = false
			break
		}
		nums[i] = v
		if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
			integral = false
		}
	}
	switch {
	case numeric && integral:
		y := make([]int64, n)
		for i, v := range nums {
			y[i] = int64(v)
		}
		return tensor.From([]int{n}, y), nil
	case numeric:
		y := make([]float32, n)
		for i, v := range nums {
			y[i] = float32(v)
		}
		return tensor.From([]int{n}, y), nil
	}
	set := map[string]bool{}
	for _, s := range text {
		set[s] = true
	}
	classes := make([]string, 0, len(set))
	for s := range set {
		classes = append(classes, s)
	}
	sort.Strings(classes)
	id := map[string]int64{}
	for i, c := range classes {
		id[c] = int64(i)
	}
	y := make([]int64, n)
	for i, s := range text {
		y[i] = id[s]
	}
	return tensor.From([]int{n}, y), classes
}
