package data

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// openImageFolder reads dir/<class>/**.{png,jpg,jpeg,gif} (dir/split when
// split is not empty), classes in sorted folder-name order as Keras'
// image_dataset_from_directory. Images are decoded to RGB and resized to
// opts.Size (default: the size of the first kept image).
func openImageFolder(dir, split string, opts Options) (Dataset, error) {
	if split != "" {
		dir = filepath.Join(dir, split)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var classes []string // os.ReadDir sorts by name
	var byClass [][]namedBlob
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		var files []namedBlob
		root := filepath.Join(dir, e.Name())
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && isImageName(p) {
				files = append(files, namedBlob{name: p})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		classes = append(classes, e.Name())
		byClass = append(byClass, files)
	}
	items, labels := flattenClasses(byClass)
	if len(items) == 0 {
		return nil, fmt.Errorf("no images in class folders under %s", dir)
	}
	keep := selectOrder(len(items), opts)
	sel := make([]namedBlob, len(keep))
	lab := make([]int64, len(keep))
	for i, j := range keep {
		sel[i], lab[i] = items[j], labels[j]
	}
	h, w := opts.Size[0], opts.Size[1]
	if h == 0 {
		b, err := os.ReadFile(sel[0].name)
		if err != nil {
			return nil, err
		}
		if _, h, w, err = decodeRGB(b); err != nil {
			return nil, fmt.Errorf("%s: %w", sel[0].name, err)
		}
	}
	pix, err := decodeAll(sel, h, w, false)
	if err != nil {
		return nil, err
	}
	// The pixels already have the output size: no per-batch resize.
	return newImageSet(pix, len(sel), h, w, 3, lab, classes, opts)
}
