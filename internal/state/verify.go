package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"go.etcd.io/bbolt"
)

// ErrDamaged is wrapped by the error Open returns when the file is a bbolt
// database whose pages are inconsistent: bbolt panicked or faulted reading it,
// its file is cut short, or tx.Check found a problem. OpenOrRecover moves such
// a file aside.
var ErrDamaged = errors.New("state store is damaged")

// protect runs fn, turning a panic into an error wrapping ErrDamaged. bbolt
// reads pages straight from its memory map and panics (or, outside the file,
// faults) on inconsistent ones; SetPanicOnFault turns the fault into a panic
// too, but only for this goroutine, which is why verify walks the pages itself
// before it lets tx.Check (which runs in a goroutine of its own) near them.
func protect(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: bbolt panicked reading it: %v", ErrDamaged, r)
		}
	}()
	return fn()
}

// verify checks the whole file: first a walker reads every reachable page
// with plain reads, so that every page and key tx.Check will touch is known to
// lie inside the file and the memory map; then bbolt's own tx.Check. Call it
// under protect, with the file lock held. It costs O(pages in use): ~30-60 ms
// for 100k records (BenchmarkOpen100k).
func (s *Store) verify(file *os.File) error {
	return s.db.View(func(tx *bbolt.Tx) error {
		ps := uint64(s.db.Info().PageSize)
		w := walker{file: file, ps: ps, hwm: uint64(tx.Size()) / ps, seen: map[uint64]bool{}}
		fi, err := file.Stat()
		if err != nil {
			return err
		}
		if uint64(fi.Size()) < w.hwm*ps {
			return fmt.Errorf("%w: file is %d bytes, its meta page says %d", ErrDamaged, fi.Size(), w.hwm*ps)
		}
		if err := w.page(uint64(tx.Cursor().Bucket().Root()), 0); err != nil {
			return fmt.Errorf("%w: %v", ErrDamaged, err)
		}
		// Read the channel to its end: Check's goroutine blocks on each send.
		var first error
		n := 0
		for err := range tx.Check() {
			if n++; first == nil {
				first = err
			}
		}
		if first != nil {
			return fmt.Errorf("%w: bbolt check found %d problems, the first: %v", ErrDamaged, n, first)
		}
		return nil
	})
}

// walker checks bbolt's page format (version 2, in native byte order) by
// reading the pages it reaches from the file: every page inside the high-water
// mark and referenced once, of the right type, and every element, key and
// value inside its page. It reads only reachable pages, not free space.
type walker struct {
	file    io.ReaderAt
	ps, hwm uint64
	seen    map[uint64]bool
	bufs    [][]byte // by depth
}

const (
	pageHeaderSize = 16
	elementSize    = 16 // branch and leaf elements alike
	branchFlag     = 0x01
	leafFlag       = 0x02
	bucketFlag     = 0x01 // on a leaf element: the value is a bucket header
	bucketHdrSize  = 16   // root pgid, sequence
	maxDepth       = 64   // nested buckets and tree levels; ours use ~6
)

var ne = binary.NativeEndian

func (w *walker) page(id uint64, depth int) error {
	if id < 2 || id >= w.hwm {
		return fmt.Errorf("page %d: outside pages 2-%d", id, w.hwm-1)
	}
	// One buffer per depth: the parent's page stays intact while a child is
	// read.
	for len(w.bufs) <= depth {
		w.bufs = append(w.bufs, make([]byte, w.ps))
	}
	p := w.bufs[depth][:w.ps]
	if _, err := w.file.ReadAt(p, int64(id*w.ps)); err != nil {
		return fmt.Errorf("page %d: %v", id, err)
	}
	n := uint64(ne.Uint32(p[12:16])) + 1
	switch {
	case ne.Uint64(p[0:8]) != id:
		return fmt.Errorf("page %d: header says page %d", id, ne.Uint64(p[0:8]))
	case n > w.hwm-id:
		return fmt.Errorf("page %d: %d overflow pages run past the end", id, n-1)
	}
	for i := id; i < id+n; i++ {
		if w.seen[i] {
			return fmt.Errorf("page %d: referenced twice", i)
		}
		w.seen[i] = true
	}
	if n > 1 {
		if uint64(cap(w.bufs[depth])) < n*w.ps {
			w.bufs[depth] = make([]byte, n*w.ps)
		}
		p = w.bufs[depth][:n*w.ps]
		if _, err := w.file.ReadAt(p, int64(id*w.ps)); err != nil {
			return fmt.Errorf("page %d: %v", id, err)
		}
	}
	return w.elems(fmt.Sprint("page ", id), p, depth)
}

// elems checks the elements of the page p (a real page or an inline bucket's)
// and follows what they reference.
func (w *walker) elems(name string, p []byte, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%s: nested more than %d deep", name, maxDepth)
	}
	if len(p) < pageHeaderSize {
		return fmt.Errorf("%s: %d bytes, shorter than a page header", name, len(p))
	}
	flags, count := ne.Uint16(p[8:10]), uint64(ne.Uint16(p[10:12]))
	if flags != branchFlag && flags != leafFlag {
		return fmt.Errorf("%s: type %#x, want branch or leaf", name, flags)
	}
	if pageHeaderSize+count*elementSize > uint64(len(p)) {
		return fmt.Errorf("%s: %d elements do not fit", name, count)
	}
	for i := uint64(0); i < count; i++ {
		off := pageHeaderSize + i*elementSize
		e := p[off : off+elementSize]
		if flags == branchFlag {
			// pos, ksize, pgid; the key is at off+pos.
			if off+uint64(ne.Uint32(e[0:4]))+uint64(ne.Uint32(e[4:8])) > uint64(len(p)) {
				return fmt.Errorf("%s: branch element %d: key outside the page", name, i)
			}
			if err := w.page(ne.Uint64(e[8:16]), depth+1); err != nil {
				return err
			}
			continue
		}
		// flags, pos, ksize, vsize; the key is at off+pos, the value after it.
		start := off + uint64(ne.Uint32(e[4:8])) + uint64(ne.Uint32(e[8:12]))
		end := start + uint64(ne.Uint32(e[12:16]))
		if end > uint64(len(p)) {
			return fmt.Errorf("%s: leaf element %d: key or value outside the page", name, i)
		}
		if ne.Uint32(e[0:4])&bucketFlag == 0 {
			continue
		}
		v := p[start:end]
		if len(v) < bucketHdrSize {
			return fmt.Errorf("%s: leaf element %d: bucket header of %d bytes", name, i, len(v))
		}
		var err error
		if root := ne.Uint64(v[0:8]); root == 0 {
			err = w.elems(fmt.Sprintf("%s: inline bucket %d", name, i), v[bucketHdrSize:], depth+1)
		} else {
			err = w.page(root, depth+1)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
