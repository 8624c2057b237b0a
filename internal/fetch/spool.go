package fetch

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"fetchd/internal/deliver"
	"fetchd/internal/state"
)

// spoolFile is a local copy of a message (wire form) kept while it goes to
// several targets, and across polls until every target has accepted it, so
// a retry never needs the server's copy to finish a partial delivery.
type spoolFile struct {
	path string
	f    *os.File
	size int64
}

// spoolName names a message's spool file after its account and UIDL, so a
// later poll finds it again; messages without a UIDL get a random name.
func spoolName(key state.AccountKey, uidl string) string {
	if uidl == "" {
		b := make([]byte, 16)
		rand.Read(b)
		return "tmp-" + hex.EncodeToString(b) + ".eml"
	}
	sum := sha256.Sum256([]byte(key.String() + "\x00" + uidl))
	return hex.EncodeToString(sum[:16]) + ".eml"
}

// writeSpool copies body into the spool and makes it durable.
func writeSpool(dir string, key state.AccountKey, uidl string, body io.Reader) (*spoolFile, error) {
	path := filepath.Join(dir, spoolName(key, uidl))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, deliver.Temporary("spool", "create", err)
	}
	sp := &spoolFile{path: path, f: f}
	w := bufio.NewWriterSize(f, 64<<10)
	n, err := io.Copy(w, body)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		sp.remove()
		return nil, deliver.Temporary("spool", "write", err)
	}
	sp.size = n
	return sp, nil
}

// openSpool opens a message spooled by an earlier poll; it must still have
// the size it was written with, or some of it is gone.
func openSpool(path string, want int64) (*spoolFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() != want {
		err = fmt.Errorf("spool file %s holds %d bytes, %d were written", path, fi.Size(), want)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &spoolFile{path: path, f: f, size: fi.Size()}, nil
}

// maildirFind reports whether the maildir file planned at path (in new/)
// is there, or in cur/ where a mail reader may have moved it (with flags
// after a colon), and returns the directory it is in.
func maildirFind(path string) (dir string, ok bool) {
	if _, err := os.Stat(path); err == nil {
		return filepath.Dir(path), true
	}
	name := filepath.Base(path)
	cur := filepath.Join(filepath.Dir(filepath.Dir(path)), "cur")
	if _, err := os.Stat(filepath.Join(cur, name)); err == nil {
		return cur, true
	}
	matches, _ := filepath.Glob(filepath.Join(cur, globEscape(name)+":*"))
	return cur, len(matches) > 0
}

func globEscape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(`*?[\`, s[i]) >= 0 {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return string(b)
}

// head returns the start of the message, for its header fields.
func (sp *spoolFile) head() []byte {
	b := make([]byte, min(sp.size, headerPeek))
	n, _ := sp.f.ReadAt(b, 0)
	return b[:n]
}

// reader returns a reader from the start of the spooled message.
func (sp *spoolFile) reader() (io.Reader, error) {
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		return nil, deliver.Temporary("spool", "rewind "+sp.path, err)
	}
	return bufio.NewReaderSize(io.LimitReader(sp.f, sp.size), 64<<10), nil
}

func (sp *spoolFile) close() {
	if sp.f != nil {
		sp.f.Close()
		sp.f = nil
	}
}

// remove deletes the spool file; a leftover costs disk space, not mail.
func (sp *spoolFile) remove() error {
	sp.close()
	if err := os.Remove(sp.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove spool file: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// CleanSpool removes the files in dir that keep does not name and that were
// last modified before cutoff (a poll running now may be writing newer ones).
func CleanSpool(dir string, keep map[string]bool, cutoff time.Time) (int, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var n int
	var errs []error
	for _, de := range entries {
		path := filepath.Join(dir, de.Name())
		if keep[path] || !de.Type().IsRegular() {
			continue
		}
		if fi, err := de.Info(); err != nil || !fi.ModTime().Before(cutoff) {
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
